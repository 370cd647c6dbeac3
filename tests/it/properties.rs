//! Property tests: codec round trips, decoders that never panic, inflection
//! round trips, and scenario cursors under concurrent requests.

use hyper::StatusCode;
use hyper::header::HeaderName;
use persona_mock::privacypass::TokenChallenge;
use persona_mock::privacypass::b64::{self, Padding};
use persona_mock::testing::{
    Cursor, Pick, RequestFacts, Route, Scenario, Sessions, Step, StepBody, Then, Times, When,
    parse_scenario,
};
use persona_mock::testing::{Inflection, to_kebab};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

fn challenge() -> impl Strategy<Value = TokenChallenge> {
    (
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 1..300),
        prop_oneof![Just(vec![]), proptest::collection::vec(any::<u8>(), 32)],
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(token_type, issuer_name, redemption_context, origin_info)| TokenChallenge {
                token_type,
                issuer_name,
                redemption_context,
                origin_info,
            },
        )
}

proptest! {
    #[test]
    fn token_challenges_round_trip(challenge in challenge()) {
        let bytes = challenge.encode().unwrap();
        prop_assert_eq!(bytes.len(), challenge.fields().encoded_len());
        prop_assert_eq!(TokenChallenge::decode(&bytes).unwrap(), challenge);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(challenge) = TokenChallenge::decode(&bytes) {
            prop_assert_eq!(challenge.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn base64url_round_trips_with_either_padding(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for padding in [Padding::Padded, Padding::Unpadded] {
            let text = padding.encode(&bytes);
            prop_assert_eq!(b64::decode(&text).unwrap(), bytes.clone());
        }
    }

    #[test]
    fn base64url_decoding_arbitrary_text_never_panics(text in ".{0,100}") {
        let _ = b64::decode(&text);
    }

    #[test]
    fn inflections_round_trip(key in "[a-z]{1,8}(-[a-z]{1,8}){0,4}") {
        for inflection in [Inflection::Kebab, Inflection::Camel, Inflection::Snake] {
            let inflected = inflection.apply(&key);
            prop_assert_eq!(to_kebab(&inflected), key.as_str());
        }
    }

    #[test]
    fn request_bodies_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = persona_mock::testing::parse_body(&bytes);
    }

    #[test]
    fn scenario_text_never_panics_the_loader(text in "(\\[\\[step\\]\\]\\n|status = [0-9]{1,4}\\n|times = [0-9\"a-z]{1,6}\\n|[a-z=\\-\" \\[\\]{}]{0,20}\\n){0,12}") {
        let _ = parse_scenario("fuzz", &text, Path::new("fuzz.toml"), "test");
    }
}

struct AnyRequest;

impl RequestFacts for AnyRequest {
    fn endpoint(&self) -> Route {
        Route::Challenge
    }
    fn body(&self, _: &str) -> Option<Option<&serde_json::Value>> {
        Some(None)
    }
    fn header(&self, _: &HeaderName) -> Option<&[u8]> {
        None
    }
}

fn scenario(times: &[u32], then: Then) -> Scenario {
    Scenario {
        name: "concurrent".into(),
        description: String::new(),
        steps: times
            .iter()
            .map(|&n| Step {
                status: StatusCode::TOO_MANY_REQUESTS,
                times: Times::Count(n),
                body: StepBody::Standard {
                    title: None,
                    details: None,
                    pointer: None,
                },
                headers: vec![],
                delay: None,
                fault: None,
                after_real: false,
                claim_result: None,
                when: When::default(),
            })
            .collect(),
        then,
        rate_limit: None,
        origin: "test".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn concurrent_requests_of_one_session_never_skip_or_repeat_a_step(
        times in proptest::collection::vec(1u32..5, 1..6),
        then in prop_oneof![Just(Then::Real), Just(Then::RepeatLast), Just(Then::Loop)],
        threads in 2usize..6,
        per_thread in 1usize..20,
    ) {
        let scenario = Arc::new(scenario(&times, then));
        let sessions = Arc::new(Sessions::default());
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let scenario = scenario.clone();
                let sessions = sessions.clone();
                std::thread::spawn(move || {
                    (0..per_thread).map(|_| sessions.advance("one", &scenario, &AnyRequest)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut concurrent: Vec<Option<Pick>> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let mut cursor = Cursor::default();
        let mut sequential: Vec<Option<Pick>> =
            (0..threads * per_thread).map(|_| cursor.advance(&scenario, &AnyRequest)).collect();
        let key = |p: &Option<Pick>| p.map(|p| (p.step, p.repetition));
        concurrent.sort_by_key(key);
        sequential.sort_by_key(key);
        prop_assert_eq!(concurrent, sequential);
    }
}

fn token_parts() -> impl Strategy<Value = (u16, [u8; 32], [u8; 32], [u8; 32], usize)> {
    (
        prop_oneof![Just(1u16), Just(2u16)],
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<usize>(),
    )
}

proptest! {
    #[test]
    fn tokens_round_trip(parts in token_parts(), fill in any::<u8>()) {
        use persona_mock::privacypass::{Token, TokenType};
        let (code, nonce, challenge_digest, token_key_id, _) = parts;
        let token_type = TokenType::from_code(code).unwrap();
        let token = Token {
            token_type,
            nonce,
            challenge_digest,
            token_key_id,
            authenticator: vec![fill; token_type.authenticator_len()],
        };
        let bytes = token.encode();
        prop_assert_eq!(&bytes[..98], &token.input()[..]);
        prop_assert_eq!(Token::decode(&bytes).unwrap(), token);
    }

    #[test]
    fn token_and_token_request_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        use persona_mock::privacypass::{Token, TokenRequest};
        if let Ok(token) = Token::decode(&bytes) {
            prop_assert_eq!(token.encode(), bytes.clone());
        }
        if let Ok(request) = TokenRequest::decode(&bytes) {
            prop_assert_eq!(request.blinded_msg, &bytes[3..]);
        }
    }

    #[test]
    fn private_token_headers_give_back_the_token_in_every_form(
        token in "[A-Za-z0-9_-]{1,60}={0,2}",
        quoted in any::<bool>(),
        scheme in prop_oneof![Just("PrivateToken"), Just("privatetoken"), Just("PRIVATETOKEN")],
        before in prop_oneof![Just(""), Just("a=1, "), Just("max-age=\"10, 20\", ")],
        after in prop_oneof![Just(""), Just(", b=2"), Just(", extra=\"x\"")],
    ) {
        let value = if quoted { format!("\"{token}\"") } else { token.clone() };
        let header = format!("{scheme} {before}token={value}{after}");
        prop_assert_eq!(persona_mock::privacypass::private_token_param(&header), Ok(token));
    }

    #[test]
    fn authorization_and_pem_parsers_never_panic(text in ".{0,200}") {
        let _ = persona_mock::privacypass::private_token_param(&text);
        let _ = persona_mock::privacypass::encryption_key(&text);
    }

    #[test]
    fn issuing_arbitrary_blinded_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 49), rsa_bytes in proptest::collection::vec(any::<u8>(), 256)) {
        let keys = issuer_keys();
        let _ = keys[0].issue(&bytes);
        let _ = keys[1].issue(&rsa_bytes);
        prop_assert!(keys[0].issue(&bytes[..48]).is_err());
        prop_assert!(!keys[0].verify(&bytes, &rsa_bytes[..48]));
        prop_assert!(!keys[1].verify(&bytes, &rsa_bytes));
    }
}

fn issuer_keys() -> &'static [persona_mock::privacypass::IssuerSecret; 2] {
    use persona_mock::privacypass::{IssuerSecret, RsaSecret};
    static KEYS: std::sync::OnceLock<[IssuerSecret; 2]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let pem = crate::support::fixture("keys-rsa/production/age_over18_verified.pem");
        [
            IssuerSecret::p384(p384::SecretKey::from_slice(&[7u8; 48]).unwrap()),
            IssuerSecret::rsa(RsaSecret::from_pem(&pem).unwrap()).unwrap(),
        ]
    })
}
