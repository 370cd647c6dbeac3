//! persona-mock: a standalone mock of Persona's Relay / Privacy Pass API.
//!
//! It serves `POST /api/privacy/v1/relays/challenge` with real RFC 9577
//! TokenChallenges and P-384 issuer keys, following Persona's conventions
//! (error envelope, `Key-Inflection`, `Persona-Version`, `Request-Id`,
//! `RateLimit-*`, environment headers). Start it in-process from Rust tests
//! with [`MockServer::builder`], or run the `persona-mock` binary.

pub mod api;
pub mod app;
pub mod auth;
pub mod b64;
pub mod clock;
pub mod config;
pub mod control;
pub mod hex;
pub mod ids;
pub mod journal;
pub mod keys;
pub mod profile;
pub mod request;
pub mod scenario;
pub mod server;
pub mod token;

pub use config::Settings;
pub use profile::Profile;
pub use server::{BoundServer, MockServer, MockServerBuilder};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
