//! Arbitrary input through base64url and the TokenChallenge codec: decoding
//! never panics, and what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persona_mock::privacypass::b64::{self, Padding};
use persona_mock::privacypass::TokenChallenge;

fuzz_target!(|data: &[u8]| {
    if let Ok(challenge) = TokenChallenge::decode(data) {
        assert_eq!(challenge.encode().unwrap(), data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(bytes) = b64::decode(text)
    {
        let unpadded = Padding::Unpadded.encode(&bytes);
        assert_eq!(b64::decode(&unpadded).unwrap(), bytes);
        if let Ok(challenge) = TokenChallenge::decode(&bytes) {
            assert_eq!(challenge.encode().unwrap(), bytes);
        }
    }
});
