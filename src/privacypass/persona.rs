//! Persona's deployed Privacy Pass dialect, which Persona's own Go SDK
//! speaks: a base64url JSON challenge bound by an HMAC `mac`, Blind RSA
//! with a plain rsaEncryption key, a hashed 98-byte token input, and a JSON
//! token. Bytes and text only; the HTTP side is in the handlers.

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `origin_info` of every challenge in this dialect.
pub const ORIGIN_INFO: &str = "/api/privacy/v1/relays";
/// `issuer_name` of challenges unless the settings name another.
pub const ISSUER_NAME: &str = "withpersona.com/api/v1/privacy-passes";

/// The fields of a JSON challenge, in the order they are sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JsonChallenge {
    /// Always 2.
    pub token_type: u16,
    /// The issuer.
    pub issuer_name: String,
    /// [`ORIGIN_INFO`].
    pub origin_info: String,
    /// `YYYY-MM-DDTHH:00:00Z`.
    pub expires_at: String,
    /// Lowercase hex HMAC-SHA256 (see [`mac`]).
    pub mac: String,
}

/// The MAC of a challenge: lowercase hex HMAC-SHA256, keyed with the
/// mock's secret, over the lines
///
/// ```text
/// persona-mock challenge v1
/// <token_type>
/// <issuer_name>
/// <origin_info>
/// <expires_at>
/// <claim type>
/// <namespace: production or sandbox>
/// ```
///
/// joined with `\n` (no newline after the last). Binding the claim type and
/// namespace keeps a challenge from redeeming a relay of another claim
/// type, or a production relay with a sandbox challenge.
pub fn mac(
    secret: &[u8],
    token_type: u16,
    issuer_name: &str,
    origin_info: &str,
    expires_at: &str,
    claim_type: &str,
    namespace: &str,
) -> String {
    let mut hmac = hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    let input = format!(
        "persona-mock challenge v1\n{token_type}\n{issuer_name}\n{origin_info}\n{expires_at}\n{claim_type}\n{namespace}"
    );
    hmac.update(input.as_bytes());
    super::hex::encode(&hmac.finalize().into_bytes())
}

/// `expires_at` for a challenge issued at `now` (Unix seconds) that lives
/// `lifetime` seconds: `now + lifetime − 1 h` rounded up to the next whole
/// hour (so the default 2 h gives 1–2 h ahead, as Persona's guides say);
/// lifetimes under an hour are not rounded.
pub fn expires_at(now: u64, lifetime: u64) -> u64 {
    if lifetime < 3600 {
        return now + lifetime;
    }
    (now + lifetime - 3600).div_ceil(3600) * 3600
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(unix: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds (no other form is accepted).
pub fn parse_time(text: &str) -> Option<u64> {
    if text.len() != 20 {
        return None;
    }
    let time = humantime::parse_rfc3339(text).ok()?;
    time.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The JSON token the SDK sends (base64url in the `PrivateToken` header).
#[derive(Clone, Debug, Deserialize)]
pub struct JsonToken {
    /// 64 lowercase hex characters.
    pub token_nonce: String,
    /// base64url of the RSA signature.
    pub signature: String,
    /// The `token-key-id` as the client received it.
    pub key_id: String,
    /// The challenge, echoed.
    pub challenge: EchoedChallenge,
}

/// The challenge fields a token echoes (others are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct EchoedChallenge {
    /// The token type.
    pub token_type: u16,
    /// The issuer.
    pub issuer_name: String,
    /// The origin.
    pub origin_info: String,
    /// When it expires.
    pub expires_at: String,
    /// Its MAC.
    pub mac: String,
}

/// The 98-byte token input: `0x0002 || SHA-256(nonce text) ||
/// SHA-256(mac text) || SHA-256(key_id text)`.
pub fn token_input(nonce: &str, mac: &str, key_id: &str) -> [u8; 98] {
    let mut out = [0u8; 98];
    out[..2].copy_from_slice(&2u16.to_be_bytes());
    out[2..34].copy_from_slice(&Sha256::digest(nonce.as_bytes()));
    out[34..66].copy_from_slice(&Sha256::digest(mac.as_bytes()));
    out[66..98].copy_from_slice(&Sha256::digest(key_id.as_bytes()));
    out
}

/// A lowercase hex text of 32 bytes, decoded.
pub fn nonce_bytes(text: &str) -> Option<[u8; 32]> {
    let lowercase = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lowercase.then(|| super::hex::decode_32(text)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_round_up_to_the_hour() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_923_493), "2026-11-29T03:38:13Z");
        assert_eq!(parse_time("2026-11-29T03:38:13Z"), Some(1_795_923_493));
        assert_eq!(parse_time("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("2026-11-29 03:38:13Z"), None);
        let now = 1_795_923_493;
        let at = expires_at(now, 7200);
        assert_eq!(at % 3600, 0);
        assert!((now + 3600..=now + 7200).contains(&at), "{at}");
        assert_eq!(expires_at(now, 60), now + 60);
    }

    #[test]
    fn the_mac_binds_every_field_and_the_scope() {
        let base = mac(b"k", 2, "i", "o", "e", "age_over18_verified", "production");
        assert_eq!(base.len(), 64);
        for other in [
            mac(b"k", 2, "i", "o", "e", "age_over21_verified", "production"),
            mac(b"k", 2, "i", "o", "e", "age_over18_verified", "sandbox"),
            mac(b"k", 2, "i", "o", "f", "age_over18_verified", "production"),
            mac(b"j", 2, "i", "o", "e", "age_over18_verified", "production"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_token_input_hashes_the_texts() {
        let input = token_input("ab", "cd", "ef");
        assert_eq!(&input[..2], &[0, 2]);
        assert_eq!(&input[2..34], Sha256::digest(b"ab").as_slice());
        assert_eq!(&input[66..], Sha256::digest(b"ef").as_slice());
        assert_eq!(nonce_bytes(&"0f".repeat(32)), Some([0x0f; 32]));
        assert_eq!(nonce_bytes(&"0F".repeat(32)), None);
    }
}
