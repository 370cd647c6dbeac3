//! One file per endpoint. An API handler is a [`Handler`]: it gets the
//! state, what the pipeline learned about the request, and the body, and
//! returns a response or a Persona-shaped error. The control API is a set
//! of free functions over the same state.

pub(crate) mod challenge;
pub(crate) mod control;

use crate::api::ApiError;
use crate::api::body::Body;
use crate::api::conventions::Inflection;
use crate::api::response::HttpResponse;
use crate::state::State;

/// What the pipeline learned about a request before its handler runs.
pub(crate) struct Ctx {
    /// The key style of the response (`Key-Inflection`).
    pub inflection: Inflection,
}

/// An API endpoint's handler.
pub(crate) type Handler = fn(&State, &Ctx, &Body) -> Result<HttpResponse, ApiError>;
