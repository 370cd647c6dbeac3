//! `POST /api/privacy/v1/relays`: a relay for a claim type, its secret, and
//! a signed session token for the hosted flow.

use super::{Ctx, inflected, unknown_claim_type};
use crate::api::ApiError;
use crate::api::body::{Body, FieldSpec, Kind, Schema};
use crate::api::response::HttpResponse;
use crate::flow::ClaimResult;
use crate::flow::jwt::{self, SessionClaims};
use crate::flow::relays::{Outcome, Relay};
use crate::ids::{Stream, opaque, uuid_v4};
use crate::keys::Namespace;
use crate::privacypass::{self, EncryptionKeyError};
use crate::state::State;
use hyper::StatusCode;
use serde_json::Value;
use std::sync::Arc;

/// The request body, as Persona's API reference gives it.
const SCHEMA: Schema = Schema {
    fields: &[
        FieldSpec {
            name: "claim-type",
            kind: Kind::String,
            required: true,
        },
        FieldSpec {
            name: "encryption-key-pem",
            kind: Kind::NullableString,
            required: false,
        },
        FieldSpec {
            name: "sandbox",
            kind: Kind::Bool,
            required: false,
        },
    ],
    example: r#"{"claim-type": "age_over18_verified", "encryption-key-pem": null}"#,
};

/// The request body.
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CreateRelayRequest {
    claim_type: String,
    encryption_key_pem: Option<String>,
    #[serde(default)]
    sandbox: bool,
}

/// Creates a relay.
pub(crate) fn handle(state: &State, ctx: &Ctx<'_>, body: &Body) -> Result<HttpResponse, ApiError> {
    let request: CreateRelayRequest =
        SCHEMA.read(body, state.allow_unknown_fields, ctx.inflection)?;
    let claim_type = request.claim_type.as_str();
    let sandbox = request.sandbox;
    if state.keys.token_type(claim_type).is_none() {
        return Err(unknown_claim_type(state, claim_type));
    }
    let encryption_key = match request.encryption_key_pem {
        Some(pem) => Some(Arc::new((encryption_key(&pem)?, pem))),
        None => None,
    };
    let token = opaque("relay_", &state.fresh.next(Stream::RelayToken));
    let secret = uuid_v4(&state.fresh.next(Stream::RelaySecret));
    let result = if sandbox {
        ClaimResult::Passed
    } else {
        state.relay_settings.production_result
    };
    let now = state.unix_now();
    let namespace = Namespace::of(sandbox);
    let session_token = state.session_tokens.sign(&SessionClaims {
        iss: jwt::ISSUER.into(),
        sub: token.clone(),
        aud: jwt::AUDIENCE.into(),
        claim_type: claim_type.to_string(),
        namespace: namespace.name().into(),
        sandbox,
        iat: now,
        exp: now + state.relay_settings.session_token_lifetime.as_secs(),
        jti: uuid_v4(&state.fresh.next(Stream::SessionToken)),
    });
    state.relays.insert(Relay {
        token: token.clone(),
        secret: secret.clone(),
        claim_type: claim_type.to_string(),
        namespace,
        encryption_key,
        created: state.now_rfc3339(),
        outcome: Outcome::default_for(claim_type, result),
        redemptions: Vec::new(),
        session: ctx.session.to_string(),
    });
    Ok(inflected(
        StatusCode::CREATED,
        ctx.inflection,
        &[
            ("relay-token", Value::from(token)),
            ("relay-secret", Value::from(secret)),
            ("relay-session-access-token", Value::from(session_token)),
        ],
    ))
}

/// The relay's encryption key, or a 422 on `/encryption-key-pem`.
fn encryption_key(pem: &str) -> Result<rsa::RsaPublicKey, ApiError> {
    privacypass::encryption_key(pem).map_err(|error| {
        let details = match error {
            EncryptionKeyError::NotRsaPem => "encryption-key-pem must be an RSA public key in PEM: \"-----BEGIN PUBLIC KEY-----\" (SubjectPublicKeyInfo) or \"-----BEGIN RSA PUBLIC KEY-----\" (PKCS#1), or null.".to_string(),
            EncryptionKeyError::Size(bits) => format!("encryption-key-pem is a {bits}-bit RSA key; it must have 2048 to 4096 bits."),
        };
        ApiError::unprocessable("/encryption-key-pem", details)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_the_request_struct() {
        crate::api::body::assert_schema_reads::<super::CreateRelayRequest>(&super::SCHEMA);
    }
}
