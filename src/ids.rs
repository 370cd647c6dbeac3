//! Opaque identifiers in Persona's style: a prefix and alphanumerics.

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of the opaque part of an identifier.
pub const OPAQUE_LEN: usize = 24;

/// `prefix` followed by 24 alphanumerics taken from `bytes` (at least 24).
pub fn opaque(prefix: &str, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(prefix.len() + OPAQUE_LEN);
    out.push_str(prefix);
    out.extend(
        bytes[..OPAQUE_LEN]
            .iter()
            .map(|b| ALPHANUMERIC[(*b % 62) as usize] as char),
    );
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_the_prefix_and_24_alphanumerics() {
        let id = super::opaque("req_", &[255u8; 32]);
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("req_"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
