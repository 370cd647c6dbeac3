//! What a client likely got wrong, when generate-claim refuses its token
//! and a cheap second look can tell: each function here runs only on a
//! refusal, tries the usual mistake, and says it in a sentence the refusal
//! (and so the contract report) carries after the failing check.

use crate::api::route::Route;
use crate::keys::IssuerKey;
use crate::privacypass::{ChallengeFields, TokenChallenge, TokenType, b64};
use crate::profile::ChallengeFormat;
use crate::state::State;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The refusal's details with the likely mistake, when there is one.
pub(super) fn with(details: impl Into<String>, mistake: Option<String>) -> String {
    let details = details.into();
    match mistake {
        Some(mistake) => format!("{details} Likely mistake: {mistake}"),
        None => details,
    }
}

/// Standard base64 (`+`, `/`) where base64url is required.
pub(super) fn standard_base64(text: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let text = text.trim();
    if !text.contains(['+', '/']) {
        return None;
    }
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .ok()?;
    Some(
        "it is standard base64 (it has '+' or '/'), and tokens are base64url (RFC 4648 §5: '-' and '_' instead); encode with the URL-safe alphabet (Go's base64.RawURLEncoding, Node's toString('base64url'))."
            .to_string(),
    )
}

/// A token whose length is another type's: the client wrote the wrong
/// `token_type` in front of a token of the other kind.
pub(super) fn token_type_for_length(declared: u16, len: usize) -> Option<String> {
    let fits = [TokenType::VoprfP384, TokenType::BlindRsa2048]
        .into_iter()
        .find(|t| t.code() != declared && len == 98 + t.authenticator_len())?;
    Some(format!(
        "{len} bytes is the length of a type {:#06x} token: the token_type field says {declared:#06x}, but the rest was built for {:#06x}. Write the challenge's token_type in the token's first two bytes.",
        fits.code(),
        fits.code()
    ))
}

/// A token of another type than the relay's key (and so its challenges).
pub(super) fn token_type(token: TokenType, key: &IssuerKey) -> Option<String> {
    (token != key.token_type).then(|| {
        format!(
            "the token is type {:#06x} ({}), but this relay's challenges are type {:#06x} ({}); build the token with the token_type the challenge names, from the token-key it came with.",
            token.code(),
            name(token),
            key.token_type.code(),
            name(key.token_type)
        )
    })
}

fn name(token_type: TokenType) -> &'static str {
    match token_type {
        TokenType::VoprfP384 => "VOPRF P-384",
        TokenType::BlindRsa2048 => "Blind RSA",
    }
}

/// A key id computed over another encoding of the relay's key (or over
/// its base64 text) than the token-key the mock sends.
pub(super) fn key_id(key: &IssuerKey, id: &[u8; 32]) -> Option<String> {
    let sent = key.token_key_b64().as_bytes().to_vec();
    let mut candidates = key.secret().key_encodings();
    candidates.push(("the token-key's base64url text (not its bytes)", sent));
    let (over, _) = candidates
        .into_iter()
        .find(|(_, bytes)| Sha256::digest(bytes).as_slice() == id)?;
    Some(format!(
        "the token's token_key_id is SHA-256 of {over}; compute it over the token-key bytes exactly as the challenge endpoint sent them (after base64url decoding), which here are {} bytes.",
        key.token_key().len()
    ))
}

/// A `challenge_digest` over a re-encoded form of a challenge the mock
/// gave out: its base64url text, or the challenge with its redemption
/// context or origin info dropped. Reads the newest challenges in the
/// journal (none with the journal off).
pub(super) fn challenge_digest(state: &State, digest: &[u8; 32]) -> Option<String> {
    if state.wire.challenge != ChallengeFormat::Rfc9577 {
        return None;
    }
    let journal = state.journal()?;
    for body in journal.recent_answers(Route::Challenge, 64) {
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&body) else {
            continue;
        };
        let Some(text) = answer.get("challenge").and_then(|c| c.as_str()) else {
            continue;
        };
        let Ok(bytes) = b64::decode(text) else {
            continue;
        };
        let Ok(challenge) = TokenChallenge::decode(&bytes) else {
            continue;
        };
        let reencoded = |redemption_context: &[u8], origin_info: &[u8]| {
            let fields = ChallengeFields {
                token_type: challenge.token_type,
                issuer_name: &challenge.issuer_name,
                redemption_context,
                origin_info,
            };
            let mut out = Vec::with_capacity(fields.encoded_len());
            fields.encode_into(&mut out).ok().map(|()| out)
        };
        let candidates = [
            (
                "the challenge's base64url text instead of its bytes".to_string(),
                Some(text.as_bytes().to_vec()),
            ),
            (
                "the challenge re-encoded without its redemption_context".to_string(),
                reencoded(&[], &challenge.origin_info),
            ),
            (
                "the challenge re-encoded without its origin_info".to_string(),
                reencoded(&challenge.redemption_context, &[]),
            ),
        ];
        for (what, bytes) in candidates {
            if bytes.is_some_and(|b| Sha256::digest(&b).as_slice() == digest) {
                return Some(format!(
                    "the token's challenge_digest is SHA-256 of {what}; hash the TokenChallenge bytes exactly as received (base64url-decoded, not re-encoded)."
                ));
            }
        }
    }
    None
}

/// A Blind RSA signature made by the relay's key over another message
/// than the token input: the 32-byte prefix of RSABSSA-SHA384-PSS-
/// Randomized's Prepare step, where the profile signs the input alone.
pub(super) fn signature_variant(
    state: &State,
    key: &IssuerKey,
    authenticator: &[u8],
) -> Option<String> {
    if !key.secret().signs_some_message(authenticator) {
        return None;
    }
    Some(match state.wire.challenge {
        ChallengeFormat::Rfc9577 => "the signature is a valid RSASSA-PSS signature by this relay's key, but of another message than the token input. A client that blinds with RSABSSA-SHA384-PSS-Randomized signs a 32-byte random prefix followed by the input; RFC 9578 tokens use the Deterministic variant, which signs the input alone.".to_string(),
        ChallengeFormat::PersonaJson => "the signature is a valid RSASSA-PSS signature by this relay's key, but of another message than the 98-byte input 0x0002 || SHA-256(token_nonce) || SHA-256(mac) || SHA-256(key_id). Persona's SDK names the PSS-Randomized variant but never runs its Prepare step, so the input is signed alone; a client that runs Prepare signs a 32-byte prefix with it.".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_base64_is_named_only_when_it_decodes_as_such() {
        assert!(standard_base64("ab+/").is_some());
        assert!(standard_base64("ab-_").is_none(), "base64url is not named");
        assert!(standard_base64("a+").is_none(), "not base64 at all");
    }

    #[test]
    fn a_length_of_the_other_type_is_named() {
        assert!(
            token_type_for_length(1, 354)
                .unwrap()
                .contains("type 0x0002")
        );
        assert!(
            token_type_for_length(2, 146)
                .unwrap()
                .contains("type 0x0001")
        );
        assert_eq!(token_type_for_length(1, 100), None);
    }
}
