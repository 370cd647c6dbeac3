//! `POST /api/v1/privacy-passes`: issuance. The `key-id` picks the issuer
//! key; the blinded input is evaluated (type 1: VOPRF with a DLEQ proof) or
//! blind-signed (type 2: Blind RSA).

use super::{Ctx, inflected};
use crate::api::ApiError;
use crate::api::body::{Body, FieldSpec, Kind, Schema};
use crate::api::response::HttpResponse;
use crate::keys::IssuerKey;
use crate::privacypass::{TokenRequest, b64, hex};
use crate::state::State;
use hyper::StatusCode;
use serde_json::Value;

/// The request body, as Persona's API reference gives it.
const SCHEMA: Schema = Schema {
    fields: &[
        FieldSpec {
            name: "blinded-token",
            kind: Kind::String,
            required: true,
        },
        FieldSpec {
            name: "key-id",
            kind: Kind::String,
            required: true,
        },
    ],
    example: r#"{"blinded-token": "<base64url>", "key-id": "<token-key-id>"}"#,
};

/// The request body.
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct IssueRequest {
    blinded_token: String,
    key_id: String,
}

/// Issues a Privacy Pass.
pub(crate) fn handle(state: &State, ctx: &Ctx<'_>, body: &Body) -> Result<HttpResponse, ApiError> {
    let request: IssueRequest = SCHEMA.read(body, state.allow_unknown_fields, ctx.inflection)?;
    let key = find_key(state, &request.key_id)?;
    let blinded = b64::decode(request.blinded_token.trim()).map_err(|_| {
        ApiError::unprocessable(
            "/blinded-token",
            "blinded-token must be base64url (the alphabet with '-' and '_'; padding optional).",
        )
    })?;
    let blinded = blinded_input(key, &blinded)?;
    let signature = key.secret().issue(blinded).map_err(|error| {
        ApiError::unprocessable(
            "/blinded-token",
            format!("blinded-token cannot be issued for: {error}."),
        )
    })?;
    Ok(inflected(
        StatusCode::CREATED,
        ctx.inflection,
        &[(
            "blind-sig",
            Value::from(state.wire.padding.encode(&signature)),
        )],
    ))
}

/// The issuer key a `key-id` names.
fn find_key<'s>(state: &'s State, key_id: &str) -> Result<&'s IssuerKey, ApiError> {
    let id = hex::decode_32(key_id.trim()).ok_or_else(|| {
        ApiError::unprocessable(
            "/key-id",
            format!(
                "key-id must be a token-key-id: 64 lowercase hex characters (got {:?}).",
                crate::api::conventions::truncate(key_id)
            ),
        )
    })?;
    state
        .keys
        .find(&id)
        .map(|(_, _, key)| key)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "/key-id",
                "key-id names no issuer key of persona-mock: use the token-key-id a challenge returned.",
            )
        })
}

/// The blinded element or message: the whole value, or the one inside an
/// RFC 9578 TokenRequest, whose type and truncated key id must fit the key.
fn blinded_input<'b>(key: &IssuerKey, bytes: &'b [u8]) -> Result<&'b [u8], ApiError> {
    let len = key.token_type.blinded_len();
    if bytes.len() != len + 3 {
        return Ok(bytes);
    }
    let request = TokenRequest::decode(bytes).map_err(|error| {
        ApiError::unprocessable(
            "/blinded-token",
            format!("blinded-token looks like a TokenRequest, but {error}."),
        )
    })?;
    if request.token_type != key.token_type {
        return Err(ApiError::unprocessable(
            "/blinded-token",
            format!(
                "The TokenRequest is for token type {}, but key-id names a key of token type {}.",
                request.token_type, key.token_type
            ),
        ));
    }
    if !key.has_truncated_id(request.truncated_token_key_id) {
        return Err(ApiError::unprocessable(
            "/blinded-token",
            format!(
                "The TokenRequest's truncated key id {:#04x} is not the last byte of key-id.",
                request.truncated_token_key_id
            ),
        ));
    }
    Ok(request.blinded_msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_the_request_struct() {
        crate::api::body::assert_schema_reads::<super::IssueRequest>(&super::SCHEMA);
    }
}
