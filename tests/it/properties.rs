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
