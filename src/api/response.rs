//! Building responses: JSON with Persona's content type, and the error
//! envelope with `Allow` for 405s.

use super::ApiError;
use bytes::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

/// The response type every handler produces.
pub type HttpResponse = Response<Bytes>;

static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON response with Persona's content type.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

/// A JSON response serialized from `value`.
pub fn json_value<T: serde::Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    json_response(
        status,
        serde_json::to_vec(value).expect("response views always serialize"),
    )
}

/// Persona's error envelope for an API error.
pub fn error_response(error: &ApiError) -> HttpResponse {
    let mut response = json_response(error.status, error.body());
    if let Some(allow) = error
        .allow
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        response.headers_mut().insert(ALLOW, allow);
    }
    if let Some(refusal) = error.refusal {
        response.extensions_mut().insert(refusal);
    }
    response
}
