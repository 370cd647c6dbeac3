#![forbid(unsafe_code)]
//! persona-mock: a standalone mock of Persona's Relay / Privacy Pass API.
//!
//! It serves the Relay flow of Persona's API reference (create relay,
//! challenge, issuance, generate-claim) with real RFC 9577/9578 cryptography
//! (VOPRF P-384 and Blind RSA issuance, token verification, one spend per
//! nonce), following Persona's conventions (error envelope,
//! `Key-Inflection`, `Persona-Version`, `Request-Id`, `RateLimit-*`,
//! environment headers, `Idempotency-Key`). Start it in-process from Rust tests
//! with [`MockServer::builder`], or run the `persona-mock` binary.
//!
//! # Layout
//!
//! Dependencies point down this list, never back up:
//!
//! - `http`: the hyper server ([`MockServer`]) and the request pipeline,
//!   head limits → guard → session → route → scenario step → auth →
//!   idempotency → conventions → body → handler → journal (the control API
//!   and the hosted page: a site check, then their handler);
//!   `http::router` holds the one routing table (methods, path, policy,
//!   handler) of the API, the control API and the hosted page.
//! - `handlers`: one file per endpoint (`challenge`, `relay`, `issue`,
//!   `claim`), and the control API under `/__mock/` as free functions over
//!   the state.
//! - `state`: every store a request reads or changes (keys, scenarios,
//!   sessions, rate limiter, journal, unmatched requests), with one
//!   `reset`.
//! - `settings`: defaults, [`Settings::validate`], and the config file;
//!   `scenario`: scenario files, the step cursor and sessions.
//! - `flow`, `keys`, `auth`, `journal`, `ids`, `clock`, `diag`: the stores
//!   and helpers the state is made of.
//! - `api`: Persona's conventions with no state (error envelope,
//!   inflection, versions, request schemas, JSON responses, endpoint
//!   names); [`privacypass`]: codecs on bytes, no HTTP.
//!
//! A new API endpoint is a [`Route`](api::route::Route) variant, a row in
//! the router's table, one handler file, its operation in `openapi.yaml`
//! and its tests (the README's Architecture section has the recipe).

pub(crate) mod api;
pub(crate) mod auth;
pub mod clock;
pub(crate) mod diag;
pub(crate) mod error;
pub(crate) mod flow;
pub(crate) mod handlers;
pub(crate) mod http;
pub(crate) mod ids;
pub(crate) mod journal;
pub(crate) mod keys;
pub mod privacypass;
pub(crate) mod profile;
pub mod report;
pub(crate) mod scenario;
pub(crate) mod settings;
pub(crate) mod state;

pub use api::ApiError;
pub use auth::{ApiKey, Environment};
pub use clock::{Clock, ManualClock, SystemClock};
pub use diag::{ConfigError, ConfigErrors};
pub use error::{EXIT_CONFIG, EXIT_RUNTIME, StartError};
pub use flow::ClaimResult;
pub use http::handle::MockServer;
pub use http::server::{BoundServer, MockServerBuilder};
pub use journal::{AnsweredBy, JournalEntry, JournalLimits};
pub use keys::{KeySource, write_key_set};
pub use privacypass::TokenType;
pub use profile::{Profile, TokenKeyEncoding};
pub use scenario::{Fault, built_in as built_in_scenarios};
pub use settings::{
    EnvironmentIds, Limit, Limits, OaepHash, RedemptionContext, RelaySettings, SettingError,
    SettingErrors, Settings,
};

/// Internals for persona-mock's own fuzz targets, benches and property
/// tests. Not part of the library's API: it changes without notice.
#[doc(hidden)]
pub mod testing {
    pub use crate::api::body::{RequestBody, parse as parse_body};
    pub use crate::api::conventions::{Inflection, to_kebab};
    pub use crate::api::route::Route;
    pub use crate::http::{Answer, respond};
    pub use crate::keys::IssuerKey;
    pub use crate::profile::WireFormat;
    pub use crate::scenario::{
        BodyCondition, Cursor, Pick, RequestFacts, Scenario, ScenarioSet, Sessions, Step, StepBody,
        Then, Times, When, parse_scenario,
    };
    pub use crate::state::State;

    /// Spends `count` random token nonces in `session`, as that many
    /// redemptions would, without minting the tokens (1,000,000 real tokens
    /// take about half an hour of signing): the scale benchmark fills the
    /// store this way before timing real redemptions.
    pub fn spend_random_nonces(state: &State, count: usize, session: &str) {
        use rand::Rng;
        let mut rng = rand::rng();
        let mut nonce = [0u8; 32];
        for _ in 0..count {
            rng.fill_bytes(&mut nonce);
            state.spent.spend(&nonce, session);
        }
    }

    /// How many spent nonces the state remembers.
    pub fn spent_count(state: &State) -> usize {
        state.spent.counts().0
    }
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
