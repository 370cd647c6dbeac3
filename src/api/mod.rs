//! Persona's API conventions, apart from any state: the error envelope,
//! `Key-Inflection` and `Persona-Version`, request bodies and their
//! schemas, JSON responses, and the names of the endpoints.

pub mod body;
pub mod conventions;
mod error;
pub mod response;
pub mod route;

pub use error::{ApiError, Refusal, persona_title};
