//! The RSA public keys relays encrypt claim payloads to: PEM, SPKI or
//! PKCS#1, 2048 to 4096 bits.

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

/// Why a PEM text is not an encryption key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionKeyError {
    /// Not an RSA public key in PEM.
    #[error("it is not an RSA public key in PEM")]
    NotRsaPem,
    /// An RSA key of an unsupported size.
    #[error("it is a {0}-bit RSA key; 2048 to 4096 bits are supported")]
    Size(usize),
}

/// Reads an RSA public key of 2048 to 4096 bits from PEM:
/// `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA PUBLIC KEY`
/// (PKCS#1).
pub fn encryption_key(pem: &str) -> Result<rsa::RsaPublicKey, EncryptionKeyError> {
    let pem = pem.trim();
    let key = rsa::RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|_| EncryptionKeyError::NotRsaPem)?;
    let bits = key.n().bit_width() as usize;
    if !(2048..=4096).contains(&bits) {
        return Err(EncryptionKeyError::Size(bits));
    }
    Ok(key)
}
