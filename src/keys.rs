//! Issuer keys: one key pair per claim type and namespace, P-384 (token
//! type 1) or RSA-2048 (token type 2), generated at random, derived from
//! `--seed`, or loaded from PEM files, with their `token-key` /
//! `token-key-id` encodings computed once per key.

use crate::privacypass::hex;
use crate::privacypass::{IssuerSecret, RsaSecret, TokenType};
use crate::profile::{RsaKeyEncoding, TokenKeyEncoding, WireFormat};
use hashbrown::HashMap;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256, Sha384};
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

    /// The namespace of `sandbox: true` (or false).
    pub fn of(sandbox: bool) -> Namespace {
        if sandbox {
            Namespace::Sandbox
        } else {
            Namespace::Production
        }
    }
}

/// An issuer key pair and its public encodings for one wire format.
pub struct IssuerKey {
    /// The token type this key issues.
    pub token_type: TokenType,
    /// The private key.
    secret: IssuerSecret,
    /// `token-key` before base64url: what `token_key_id` hashes.
    token_key: Vec<u8>,
    /// `token-key` as sent.
    token_key_b64: String,
    /// SHA-256 of `token_key`.
    token_key_id: [u8; 32],
    /// `token-key-id` as sent: lowercase hex of `token_key_id`.
    token_key_id_hex: String,
    /// SHA-256 of the key's RFC 9578 encoding, when `token_key` is another
    /// encoding (a DER P-384 key): the id an RFC client computes.
    rfc9578_key_id: Option<[u8; 32]>,
}

impl IssuerKey {
    /// Wraps a secret, computing its encodings for `wire`. Type 1 keys
    /// follow the wire's `token-key` encoding; type 2 keys are always the
    /// RSASSA-PSS SubjectPublicKeyInfo RFC 9578 requires (which is DER).
    pub fn new(secret: IssuerSecret, wire: WireFormat) -> IssuerKey {
        let rfc9578 = secret.rfc9578_key();
        let token_key = match (secret.token_type(), wire.token_key, wire.rsa_key) {
            (TokenType::VoprfP384, TokenKeyEncoding::SpkiDer, _) => secret.spki_der(),
            (TokenType::BlindRsa2048, _, RsaKeyEncoding::RsaEncryptionSpki) => secret
                .rsa_encryption_spki()
                .expect("an RSA key has an rsaEncryption SPKI"),
            _ => rfc9578.clone(),
        };
        let token_key_id: [u8; 32] = Sha256::digest(&token_key).into();
        let rfc9578_key_id: [u8; 32] = Sha256::digest(&rfc9578).into();
        IssuerKey {
            token_type: secret.token_type(),
            token_key_b64: wire.padding.encode(&token_key),
            token_key_id_hex: hex::encode(&token_key_id),
            rfc9578_key_id: (rfc9578_key_id != token_key_id).then_some(rfc9578_key_id),
            token_key,
            token_key_id,
            secret,
        }
    }

    /// Wraps a P-384 secret key, computing its encodings for `wire`.
    pub fn from_p384(secret: p384::SecretKey, wire: WireFormat) -> IssuerKey {
        IssuerKey::new(IssuerSecret::p384(secret), wire)
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

    /// Whether `id` names this key: SHA-256 of the advertised `token-key`,
    /// or of the key's RFC 9578 encoding (both name the same key).
    pub fn has_id(&self, id: &[u8; 32]) -> bool {
        *id == self.token_key_id || self.rfc9578_key_id.as_ref() == Some(id)
    }

    /// Whether the last byte of one of the key's ids is `byte` (the
    /// truncated key id of a TokenRequest).
    pub fn has_truncated_id(&self, byte: u8) -> bool {
        self.token_key_id[31] == byte || self.rfc9578_key_id.is_some_and(|id| id[31] == byte)
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
    /// Generates the key for one claim type and namespace (an RSA key takes
    /// 50–150 ms).
    pub fn generate(
        self,
        namespace: Namespace,
        claim_type: &str,
        token_type: TokenType,
    ) -> IssuerSecret {
        match token_type {
            TokenType::VoprfP384 => IssuerSecret::p384(self.p384(namespace, claim_type)),
            TokenType::BlindRsa2048 => match self {
                KeySource::Random => IssuerSecret::generate_rsa(&mut rand::rng()),
                KeySource::Seeded(seed) => {
                    let digest: [u8; 32] = Sha256::new()
                        .chain_update(b"persona-mock rsa issuer key v1\0")
                        .chain_update(seed.to_be_bytes())
                        .chain_update(namespace.name().as_bytes())
                        .chain_update([0])
                        .chain_update(claim_type.as_bytes())
                        .finalize()
                        .into();
                    IssuerSecret::generate_rsa(&mut rand::rngs::StdRng::from_seed(digest))
                }
            },
        }
    }

    fn p384(self, namespace: Namespace, claim_type: &str) -> p384::SecretKey {
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

/// A key made on first use: from the secret loaded at startup (pinned),
/// or generated.
struct KeySlot {
    index: u16,
    token_type: TokenType,
    key: OnceLock<IssuerKey>,
    /// A pinned secret, read and checked at startup; its public key and
    /// encodings (a P-384 scalar multiplication each) wait for first use,
    /// so a pinned key set does not delay the ready line.
    pinned: Option<IssuerSecret>,
}

/// Every issuer key the mock serves, by namespace and claim type.
///
/// Keys are made on first use (or by [`KeyRing::warm`] right after startup,
/// RSA keys first): generated ones from the key source, pinned ones from the
/// secret read and checked at startup. So startup waits neither on key
/// generation nor on deriving public keys, however many claim types are
/// configured. Each slot is initialised exactly once, so a claim type keeps
/// its key for the life of the process.
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
    /// Whether [`KeyRing::warm`] has made every key.
    made: std::sync::atomic::AtomicBool,
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
    /// A ring for `claim_types` (each with the token type it issues) whose
    /// keys all come from `source`.
    pub fn new(
        claim_types: &[(String, TokenType)],
        source: KeySource,
        wire: WireFormat,
    ) -> KeyRing {
        let slots = || {
            claim_types
                .iter()
                .enumerate()
                .map(|(index, (name, token_type))| {
                    (
                        name.clone(),
                        KeySlot {
                            index: u16::try_from(index).unwrap_or(u16::MAX),
                            token_type: *token_type,
                            key: OnceLock::new(),
                            pinned: None,
                        },
                    )
                })
                .collect()
        };
        KeyRing {
            wire,
            source,
            claim_types: claim_types.iter().map(|(name, _)| name.clone()).collect(),
            production: slots(),
            sandbox: slots(),
            made: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Reads and checks the PEM files of `dir` (`production/<claim type>.pem`,
    /// `sandbox/<claim type>.pem`); their keys are made from them at first
    /// use, and claim types without a file keep generated keys. Returns the
    /// paths of files for unknown claim types.
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
                let Some(slot) = self.slots_mut(namespace).get_mut(claim_type) else {
                    ignored.push(path);
                    continue;
                };
                match read_secret_key(&path) {
                    Ok(secret) if secret.token_type() == slot.token_type => {
                        slot.pinned = Some(secret);
                    }
                    Ok(secret) => errors.push(KeyFileError {
                        message: format!(
                            "a key of token type {} but {claim_type} issues token type {} (set token-type or [token-types] in the config file, or write the other kind with `persona-mock keygen`)",
                            secret.token_type(),
                            slot.token_type
                        ),
                        path,
                    }),
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

    /// The position of a claim type in [`KeyRing::claim_types`] and its key,
    /// or `None` if the claim type is not served. A key not made yet is made
    /// now (the background warm-up usually got there first).
    pub fn get(&self, namespace: Namespace, claim_type: &str) -> Option<(u16, &IssuerKey)> {
        let slot = self.slots(namespace).get(claim_type)?;
        Some((slot.index, self.key(namespace, claim_type, slot)))
    }

    /// The slot's key, made now if it does not exist yet.
    fn key<'a>(&self, namespace: Namespace, claim_type: &str, slot: &'a KeySlot) -> &'a IssuerKey {
        slot.key.get_or_init(|| {
            let secret = slot
                .pinned
                .clone()
                .unwrap_or_else(|| self.source.generate(namespace, claim_type, slot.token_type));
            IssuerKey::new(secret, self.wire)
        })
    }

    /// The key whose id (either encoding's) is `id`, with its namespace and
    /// claim type. Generated keys not made yet have issued nothing, so they
    /// are not looked at; pinned ones may have (in an earlier run), so they
    /// are made.
    pub fn find(&self, id: &[u8; 32]) -> Option<(Namespace, &str, &IssuerKey)> {
        Namespace::ALL.into_iter().find_map(|namespace| {
            self.slots(namespace).iter().find_map(|(claim_type, slot)| {
                let key = match slot.key.get() {
                    Some(key) => key,
                    None if slot.pinned.is_some() => self.key(namespace, claim_type, slot),
                    None => return None,
                };
                key.has_id(id)
                    .then_some((namespace, claim_type.as_str(), key))
            })
        })
    }

    /// The claim types served, in configuration order.
    pub fn claim_types(&self) -> &[String] {
        &self.claim_types
    }

    /// The token type a claim type issues.
    pub fn token_type(&self, claim_type: &str) -> Option<TokenType> {
        self.production.get(claim_type).map(|slot| slot.token_type)
    }

    /// Makes every key that does not exist yet, the quick P-384 keys first
    /// (a request for one waits the least), then the RSA keys. Blocks for as
    /// long as that takes (an RSA key takes 50–150 ms): run it on a thread
    /// of its own.
    pub fn warm(&self) {
        for rsa in [false, true] {
            for namespace in Namespace::ALL {
                for claim_type in &self.claim_types {
                    let is_rsa = self.token_type(claim_type) == Some(TokenType::BlindRsa2048);
                    if is_rsa == rsa {
                        self.get(namespace, claim_type);
                    }
                }
            }
        }
        self.made.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether every key is made: a request can then get any key without
    /// waiting.
    pub fn all_made(&self) -> bool {
        self.made.load(std::sync::atomic::Ordering::Acquire)
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

/// A P-384 scalar from a PEM file's SEC1 (`EC PRIVATE KEY`) or PKCS#8
/// (`PRIVATE KEY`) document. A public key stored beside the scalar is not
/// checked against it (that is a scalar multiplication per key, most of a
/// pinned key set's load time): the public key served is always computed
/// from the scalar.
fn p384_from_pem(text: &str, label: &str) -> Result<p384::SecretKey, String> {
    use sec1::der::Decode;
    let (found, der) =
        sec1::der::pem::decode_vec(text.trim().as_bytes()).map_err(|e| e.to_string())?;
    if found != label {
        return Err(format!("a PEM document labelled {found:?}"));
    }
    let sec1_der: &[u8] = if label == "PRIVATE KEY" {
        let info = p384::pkcs8::PrivateKeyInfoRef::from_der(&der).map_err(|e| e.to_string())?;
        let curve = info.algorithm.parameters_oid().ok();
        if info.algorithm.oid != ID_EC_PUBLIC_KEY || curve != Some(SECP384R1) {
            return Err("not an EC key on P-384".into());
        }
        info.private_key.as_bytes()
    } else {
        &der
    };
    let key = sec1::EcPrivateKey::from_der(sec1_der).map_err(|e| e.to_string())?;
    if let Some(parameters) = key.parameters
        && parameters.named_curve() != Some(SECP384R1)
    {
        return Err("a key on another curve than P-384".into());
    }
    p384::SecretKey::from_slice(key.private_key).map_err(|e| e.to_string())
}

/// The object identifier of elliptic-curve keys (id-ecPublicKey).
const ID_EC_PUBLIC_KEY: p384::pkcs8::ObjectIdentifier =
    p384::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// The object identifier of P-384 (secp384r1).
const SECP384R1: p384::pkcs8::ObjectIdentifier =
    p384::pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Reads an issuer key from a PEM file: P-384 in PKCS#8 (`BEGIN PRIVATE
/// KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`), or RSA in PKCS#8 or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`).
fn read_secret_key(path: &Path) -> Result<IssuerSecret, KeyFileError> {
    let fail = |message: String| KeyFileError {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    if text.contains("-----BEGIN EC PRIVATE KEY-----") {
        return p384_from_pem(&text, "EC PRIVATE KEY")
            .map(IssuerSecret::p384)
            .map_err(|e| fail(format!("not a P-384 SEC1 private key: {e}")));
    }
    if let Ok(secret) = p384_from_pem(&text, "PRIVATE KEY") {
        return Ok(IssuerSecret::p384(secret));
    }
    match RsaSecret::from_pem(&text) {
        Ok(secret) if secret.components().n().len() * 8 == crate::privacypass::RSA_BITS => {
            IssuerSecret::rsa(secret).ok_or_else(|| fail("an RSA key Blind RSA cannot use".into()))
        }
        Ok(secret) => Err(fail(format!(
            "an RSA key of {} bits; token type 2 uses 2048-bit keys",
            secret.components().n().len() * 8
        ))),
        Err(_) => Err(fail("not a P-384 private key in PKCS#8 PEM (\"BEGIN PRIVATE KEY\") or SEC1 PEM (\"BEGIN EC PRIVATE KEY\"), nor an RSA-2048 private key in PKCS#8 or PKCS#1 PEM (\"BEGIN RSA PRIVATE KEY\")".into())),
    }
}

/// Writes a key set for `claim_types` (each with its token type) to `dir`
/// in the layout the config file's `[keys] dir` loads. Refuses to replace files
/// unless `force`.
pub fn write_key_set(
    dir: &Path,
    claim_types: &[(String, TokenType)],
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
        for (claim_type, token_type) in claim_types {
            let path = folder.join(format!("{claim_type}.pem"));
            if path.exists() && !force {
                return Err(KeyFileError {
                    path,
                    message: "already exists; pass --force to replace the key set".into(),
                });
            }
            let pem = source
                .generate(namespace, claim_type, *token_type)
                .to_pkcs8_pem();
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
        let claims = vec![
            ("a".to_string(), TokenType::VoprfP384),
            ("b".to_string(), TokenType::VoprfP384),
        ];
        KeyRing::new(&claims, source, profile.wire_format())
    }

    #[test]
    fn the_same_claim_type_keeps_its_key() {
        let ring = ring(KeySource::Random, Profile::Reference);
        let first = ring
            .get(Namespace::Production, "a")
            .unwrap()
            .1
            .token_key_b64()
            .to_string();
        assert_eq!(
            ring.get(Namespace::Production, "a")
                .unwrap()
                .1
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
        .map(|(ns, c)| ring.get(*ns, c).unwrap().1.token_key_id_hex())
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
                .1
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
        let der_key = der.get(Namespace::Production, "a").unwrap().1;
        let rfc_key = rfc.get(Namespace::Production, "a").unwrap().1;
        assert_eq!(der_key.token_key().len(), 120);
        assert_eq!(rfc_key.token_key().len(), 49);
        // The DER key ends with the uncompressed point whose x the compressed one carries.
        assert_eq!(&der_key.token_key()[24..72], &rfc_key.token_key()[1..49]);
        assert!(!der_key.token_key_b64().ends_with('='));
        assert!(rfc_key.token_key_b64().ends_with('='));
    }

    #[test]
    fn pinned_p384_scalars_match_the_p384_crates_own_decoder() {
        use p384::pkcs8::DecodePrivateKey;
        use sec1::der::pem::LineEnding;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys/production");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            // p384's decoder also checks the stored public key against the scalar.
            let theirs = p384::SecretKey::from_pkcs8_pem(&text).unwrap();
            let ours = p384_from_pem(&text, "PRIVATE KEY").unwrap();
            assert_eq!(ours.to_bytes(), theirs.to_bytes());
            let sec1 = theirs.to_sec1_pem(LineEnding::LF).unwrap();
            let ours = p384_from_pem(&sec1, "EC PRIVATE KEY").unwrap();
            assert_eq!(ours.to_bytes(), theirs.to_bytes());
            checked += 1;
        }
        assert!(checked >= 10, "{checked} fixture keys");
    }

    #[test]
    fn a_pem_key_on_another_curve_is_refused() {
        use sec1::der::pem::LineEnding;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/keys/production/age_over18_verified.pem");
        let text = std::fs::read_to_string(path).unwrap();
        let (_, mut der) = sec1::der::pem::decode_vec(text.trim().as_bytes()).unwrap();
        // secp384r1 (1.3.132.0.34) becomes secp521r1 (1.3.132.0.35).
        let oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        let at = der.windows(oid.len()).position(|w| w == oid).unwrap();
        der[at + oid.len() - 1] = 0x23;
        let other = sec1::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der).unwrap();
        assert_eq!(
            p384_from_pem(&other, "PRIVATE KEY").unwrap_err(),
            "not an EC key on P-384"
        );
        assert!(
            p384_from_pem(&text, "EC PRIVATE KEY").is_err(),
            "the label must match"
        );
    }

    #[test]
    fn a_pinned_key_is_found_by_its_id_before_its_first_use() {
        use p384::pkcs8::DecodePrivateKey;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys");
        let claims = vec![("age_over18_verified".to_string(), TokenType::VoprfP384)];
        let wire = Profile::Reference.wire_format();
        let mut ring = KeyRing::new(&claims, KeySource::Random, wire);
        ring.load_dir(&root).unwrap();
        let text =
            std::fs::read_to_string(root.join("production/age_over18_verified.pem")).unwrap();
        let expected = IssuerKey::from_p384(p384::SecretKey::from_pkcs8_pem(&text).unwrap(), wire);
        // No challenge was issued in this process: the key was never made.
        let (namespace, claim_type, key) = ring.find(expected.token_key_id()).unwrap();
        assert_eq!(
            (namespace, claim_type),
            (Namespace::Production, "age_over18_verified")
        );
        assert_eq!(key.token_key(), expected.token_key());
        let (_, got) = ring
            .get(Namespace::Production, "age_over18_verified")
            .unwrap();
        assert_eq!(
            got.token_key(),
            expected.token_key(),
            "the same key from then on"
        );
    }
}
