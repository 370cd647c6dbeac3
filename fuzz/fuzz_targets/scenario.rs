//! Arbitrary text through the scenario file loader: it must report errors,
//! never panic, and whatever it accepts must be usable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persona_mock::testing::parse_scenario;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_scenario("fuzz", text, Path::new("fuzz.toml"), "fuzz") {
        Ok(scenario) => {
            for step in &scenario.steps {
                assert!((100..=599).contains(&step.status.as_u16()));
                for repetition in 0..3 {
                    let _ = step.headers_for(repetition).count();
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                let line = error.to_string();
                assert!(line.starts_with("fuzz.toml"), "{line}");
            }
        }
    }
});
