//! Issuer keys: one key pair per claim type and namespace, generated with
//! `p384` (at random, or derived from `--seed`) or loaded from PEM files, and
//! their `token-key` / `token-key-id` encodings, computed once per key.

use crate::privacypass::TokenType;
use crate::privacypass::hex;
use crate::profile::{TokenKeyEncoding, WireFormat};
use p384::elliptic_curve::sec1::ToSec1Point;
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand::Rng;
use sha2::{Digest, Sha256, Sha384};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The two key namespaces: `sandbox: true` challenges use their own keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Requests without `sandbox: true`.
    Production,
    /// Requests with `sandbox: true`.
    Sandbox,
}

impl Namespace {
    /// Both namespaces, production first.
    pub const ALL: [Namespace; 2] = [Namespace::Production, Namespace::Sandbox];

    /// The namespace's name, also its folder name in a key directory.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Production => "production",
            Namespace::Sandbox => "sandbox",
        }
    }
}

/// The secret half of an issuer key; its kind fixes the token type.
#[derive(Clone)]
pub enum IssuerSecret {
    /// A P-384 scalar: VOPRF(P-384, SHA-384), token type 0x0001.
    P384(p384::SecretKey),
}

impl IssuerSecret {
    /// The token type this secret issues.
    pub fn token_type(&self) -> TokenType {
        match self {
            IssuerSecret::P384(_) => TokenType::VoprfP384,
        }
    }
}

/// An issuer key pair and its public encodings for one wire format.
pub struct IssuerKey {
    /// The token type this key issues.
    pub token_type: TokenType,
    /// The private key; issuance and redemption will need it.
    secret: IssuerSecret,
    /// `token-key` before base64url: what `token_key_id` hashes.
    token_key: Vec<u8>,
    /// `token-key` as sent.
    token_key_b64: String,
    /// SHA-256 of `token_key`.
    token_key_id: [u8; 32],
    /// `token-key-id` as sent: lowercase hex of `token_key_id`.
    token_key_id_hex: String,
}

impl IssuerKey {
    /// Wraps a P-384 secret key, computing its encodings for `wire`.
    pub fn from_p384(secret: p384::SecretKey, wire: WireFormat) -> IssuerKey {
        let public = secret.public_key();
        let token_key = match wire.token_key {
            TokenKeyEncoding::SpkiDer => public
                .to_public_key_der()
                .expect("a valid P-384 public key always encodes as SPKI")
                .into_vec(),
            TokenKeyEncoding::Rfc9578 => public.to_sec1_point(true).as_bytes().to_vec(),
        };
        let token_key_id: [u8; 32] = Sha256::digest(&token_key).into();
        let secret = IssuerSecret::P384(secret);
        IssuerKey {
            token_type: secret.token_type(),
            token_key_b64: wire.padding.encode(&token_key),
            token_key_id_hex: hex::encode(&token_key_id),
            token_key,
            token_key_id,
            secret,
        }
    }

    /// `token-key` before base64url.
    pub fn token_key(&self) -> &[u8] {
        &self.token_key
    }

    /// `token-key` as sent in responses.
    pub fn token_key_b64(&self) -> &str {
        &self.token_key_b64
    }

    /// The key id: SHA-256 of [`IssuerKey::token_key`].
    pub fn token_key_id(&self) -> &[u8; 32] {
        &self.token_key_id
    }

    /// `token-key-id` as sent in responses.
    pub fn token_key_id_hex(&self) -> &str {
        &self.token_key_id_hex
    }

    /// The private key, for issuing and verifying tokens.
    pub fn secret(&self) -> &IssuerSecret {
        &self.secret
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKey")
            .field("token_type", &self.token_type)
            .field("token_key_id", &self.token_key_id_hex)
            .finish_non_exhaustive()
    }
}

/// Where keys that are not loaded from files come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Fresh random keys for every process.
    Random,
    /// Keys derived from this seed, the namespace and the claim type, so the
    /// same seed gives the same keys on every run and machine.
    Seeded(u64),
}

impl KeySource {
    /// Generates the key for one claim type and namespace.
    pub fn generate(self, namespace: Namespace, claim_type: &str) -> p384::SecretKey {
        match self {
            KeySource::Random => loop {
                let mut bytes = [0u8; 48];
                rand::rng().fill_bytes(&mut bytes);
                if let Ok(secret) = p384::SecretKey::from_slice(&bytes) {
                    return secret;
                }
            },
            KeySource::Seeded(seed) => (0u32..)
                .find_map(|attempt| {
                    let digest = Sha384::new()
                        .chain_update(b"persona-mock issuer key v1\0")
                        .chain_update(seed.to_be_bytes())
                        .chain_update(namespace.name().as_bytes())
                        .chain_update([0])
                        .chain_update(claim_type.as_bytes())
                        .chain_update(attempt.to_be_bytes())
                        .finalize();
                    p384::SecretKey::from_slice(&digest).ok()
                })
                .expect("some attempt yields a valid scalar"),
        }
    }
}

/// A key that exists from startup (loaded) or is made on first use.
struct KeySlot {
    key: OnceLock<IssuerKey>,
}

/// Every issuer key the mock serves, by namespace and claim type.
///
/// Generated keys are made on first use (or by [`KeyRing::warm`] right after
/// startup), so startup does not wait on key generation however many claim
/// types are configured. Each slot is initialised exactly once, so a claim type
/// keeps its key for the life of the process.
pub struct KeyRing {
    /// The encodings every key is computed for.
    wire: WireFormat,
    /// Where generated keys come from.
    source: KeySource,
    /// Claim types in configuration order.
    claim_types: Vec<String>,
    /// Keys of the production namespace.
    production: HashMap<String, KeySlot>,
    /// Keys of the sandbox namespace.
    sandbox: HashMap<String, KeySlot>,
}

/// A problem with a key directory, naming the file.
#[derive(Debug)]
pub struct KeyFileError {
    /// The file or folder concerned.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for KeyFileError {}

impl KeyRing {
    /// A ring for `claim_types` whose keys all come from `source`.
    pub fn new(claim_types: &[String], source: KeySource, wire: WireFormat) -> KeyRing {
        let slots = || {
            claim_types
                .iter()
                .map(|name| {
                    (
                        name.clone(),
                        KeySlot {
                            key: OnceLock::new(),
                        },
                    )
                })
                .collect()
        };
        KeyRing {
            wire,
            source,
            claim_types: claim_types.to_vec(),
            production: slots(),
            sandbox: slots(),
        }
    }

    /// Loads the PEM files of `dir` (`production/<claim type>.pem`,
    /// `sandbox/<claim type>.pem`); claim types without a file keep
    /// generated keys. Returns the paths of files for unknown claim types.
    pub fn load_dir(&mut self, dir: &Path) -> Result<Vec<PathBuf>, Vec<KeyFileError>> {
        let mut errors = Vec::new();
        let mut ignored = Vec::new();
        if !dir.is_dir() {
            return Err(vec![KeyFileError {
                path: dir.to_path_buf(),
                message: "key directory not found (it should hold production/ and sandbox/ folders of <claim type>.pem files; `persona-mock keygen --out DIR` writes one)".into(),
            }]);
        }
        for namespace in Namespace::ALL {
            let folder = dir.join(namespace.name());
            let entries = match std::fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    errors.push(KeyFileError {
                        path: folder,
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
                .collect();
            paths.sort();
            for path in paths {
                let Some(claim_type) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let wire = self.wire;
                let Some(slot) = self.slots_mut(namespace).get_mut(claim_type) else {
                    ignored.push(path);
                    continue;
                };
                match read_secret_key(&path) {
                    Ok(secret) => {
                        slot.key = OnceLock::from(IssuerKey::from_p384(secret, wire));
                    }
                    Err(error) => errors.push(error),
                }
            }
        }
        if errors.is_empty() {
            Ok(ignored)
        } else {
            Err(errors)
        }
    }

    /// The key for a claim type, or `None` if the claim type is not served.
    pub fn get(&self, namespace: Namespace, claim_type: &str) -> Option<&IssuerKey> {
        let slot = self.slots(namespace).get(claim_type)?;
        Some(slot.key.get_or_init(|| {
            IssuerKey::from_p384(self.source.generate(namespace, claim_type), self.wire)
        }))
    }

    /// The claim types served, in configuration order.
    pub fn claim_types(&self) -> &[String] {
        &self.claim_types
    }

    /// Makes every key that does not exist yet.
    pub fn warm(&self) {
        for namespace in Namespace::ALL {
            for claim_type in &self.claim_types {
                self.get(namespace, claim_type);
            }
        }
    }

    fn slots(&self, namespace: Namespace) -> &HashMap<String, KeySlot> {
        match namespace {
            Namespace::Production => &self.production,
            Namespace::Sandbox => &self.sandbox,
        }
    }

    fn slots_mut(&mut self, namespace: Namespace) -> &mut HashMap<String, KeySlot> {
        match namespace {
            Namespace::Production => &mut self.production,
            Namespace::Sandbox => &mut self.sandbox,
        }
    }
}

/// Reads a P-384 private key from a PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1
/// (`BEGIN EC PRIVATE KEY`) PEM file.
fn read_secret_key(path: &Path) -> Result<p384::SecretKey, KeyFileError> {
    let fail = |message: String| KeyFileError {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    if text.contains("-----BEGIN EC PRIVATE KEY-----") {
        p384::SecretKey::from_sec1_pem(&text)
            .map_err(|e| fail(format!("not a P-384 SEC1 private key: {e}")))
    } else {
        p384::SecretKey::from_pkcs8_pem(&text).map_err(|e| {
            fail(format!("not a P-384 private key in PKCS#8 PEM (\"BEGIN PRIVATE KEY\") or SEC1 PEM (\"BEGIN EC PRIVATE KEY\"): {e}"))
        })
    }
}

/// Writes a key set for `claim_types` to `dir` in the layout
/// [`KeyRing::load_dir`] reads. Refuses to replace files unless `force`.
pub fn write_key_set(
    dir: &Path,
    claim_types: &[String],
    source: KeySource,
    force: bool,
) -> Result<Vec<PathBuf>, KeyFileError> {
    let io_error = |path: &Path, e: std::io::Error| KeyFileError {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut written = Vec::new();
    for namespace in Namespace::ALL {
        let folder = dir.join(namespace.name());
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        for claim_type in claim_types {
            let path = folder.join(format!("{claim_type}.pem"));
            if path.exists() && !force {
                return Err(KeyFileError {
                    path,
                    message: "already exists; pass --force to replace the key set".into(),
                });
            }
            let pem = source
                .generate(namespace, claim_type)
                .to_pkcs8_pem(LineEnding::LF)
                .expect("a valid P-384 secret key always encodes as PKCS#8");
            std::fs::write(&path, pem.as_bytes()).map_err(|e| io_error(&path, e))?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn ring(source: KeySource, profile: Profile) -> KeyRing {
        let claims = vec!["a".to_string(), "b".to_string()];
        KeyRing::new(&claims, source, profile.wire_format())
    }

    #[test]
    fn the_same_claim_type_keeps_its_key() {
        let ring = ring(KeySource::Random, Profile::Reference);
        let first = ring
            .get(Namespace::Production, "a")
            .unwrap()
            .token_key_b64()
            .to_string();
        assert_eq!(
            ring.get(Namespace::Production, "a")
                .unwrap()
                .token_key_b64(),
            first
        );
    }

    #[test]
    fn claim_types_and_namespaces_get_different_keys() {
        let ring = ring(KeySource::Seeded(1), Profile::Reference);
        let ids: Vec<&str> = [
            (Namespace::Production, "a"),
            (Namespace::Production, "b"),
            (Namespace::Sandbox, "a"),
            (Namespace::Sandbox, "b"),
        ]
        .iter()
        .map(|(ns, c)| ring.get(*ns, c).unwrap().token_key_id_hex())
        .collect();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 4, "{ids:?}");
    }

    #[test]
    fn a_seed_gives_the_same_keys_in_every_ring() {
        let one = ring(KeySource::Seeded(9), Profile::Reference);
        let two = ring(KeySource::Seeded(9), Profile::Reference);
        let other = ring(KeySource::Seeded(10), Profile::Reference);
        let id = |r: &KeyRing| {
            r.get(Namespace::Sandbox, "b")
                .unwrap()
                .token_key_id_hex()
                .to_string()
        };
        assert_eq!(id(&one), id(&two));
        assert_ne!(id(&one), id(&other));
    }

    #[test]
    fn unknown_claim_types_have_no_key() {
        assert!(
            ring(KeySource::Random, Profile::Reference)
                .get(Namespace::Production, "c")
                .is_none()
        );
    }

    #[test]
    fn encodings_follow_the_wire_format() {
        let der = ring(KeySource::Seeded(3), Profile::Reference);
        let rfc = ring(KeySource::Seeded(3), Profile::Rfc9578);
        let der_key = der.get(Namespace::Production, "a").unwrap();
        let rfc_key = rfc.get(Namespace::Production, "a").unwrap();
        assert_eq!(der_key.token_key().len(), 120);
        assert_eq!(rfc_key.token_key().len(), 49);
        // The DER key ends with the uncompressed point whose x the compressed one carries.
        assert_eq!(&der_key.token_key()[24..72], &rfc_key.token_key()[1..49]);
        assert!(!der_key.token_key_b64().ends_with('='));
        assert!(rfc_key.token_key_b64().ends_with('='));
    }
}
