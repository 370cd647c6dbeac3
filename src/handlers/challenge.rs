//! `POST /api/privacy/v1/relays/challenge`: a fresh RFC 9577 TokenChallenge
//! with the issuer key of the claim type and namespace asked for.

use super::Ctx;
use crate::api::ApiError;
use crate::api::body::{Body, FieldSpec, Kind, Schema};
use crate::api::response::{HttpResponse, json_response};
use crate::flow::{Issued, session_hash};
use crate::ids::Stream;
use crate::keys::{IssuerKey, Namespace};
use crate::privacypass::{ChallengeFields, REDEMPTION_CONTEXT_LEN, persona};
use crate::profile::ChallengeFormat;
use crate::settings::RedemptionContext;
use crate::state::State;
use hyper::StatusCode;
use sha2::{Digest, Sha256};

/// The request body, as Persona's API reference gives it.
const SCHEMA: Schema = Schema {
    fields: &[
        FieldSpec {
            name: "claim-type",
            kind: Kind::String,
            required: true,
        },
        FieldSpec {
            name: "sandbox",
            kind: Kind::Bool,
            required: false,
        },
    ],
    example: r#"{"claim-type": "age_over18_verified"}"#,
};

/// The request body.
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ChallengeRequest {
    claim_type: String,
    #[serde(default)]
    sandbox: bool,
}

/// Answers a challenge request.
pub(crate) fn handle(state: &State, ctx: &Ctx<'_>, body: &Body) -> Result<HttpResponse, ApiError> {
    let request: ChallengeRequest =
        SCHEMA.read(body, state.allow_unknown_fields, ctx.inflection)?;
    let claim_type = request.claim_type.as_str();
    let namespace = Namespace::of(request.sandbox);
    let Some((challenge, key)) = make(state, ctx.session, ctx.now, claim_type, namespace) else {
        return Err(super::unknown_claim_type(state, claim_type));
    };
    // The answer is written in one buffer of exactly its size (it becomes
    // the response body without another allocation): paired rounds measured
    // 6% more CPU per request through format! and a String per value.
    let names = ["challenge", "token-key", "token-key-id"].map(|k| ctx.inflection.apply(k));
    let token_key = key.token_key_b64();
    let token_key_id = key.token_key_id_hex();
    let padding = state.wire.padding;
    let mut out = Vec::with_capacity(
        r#"{"":"","":"","":""}"#.len()
            + names.iter().map(|n| n.len()).sum::<usize>()
            + padding.encoded_len(challenge.len())
            + token_key.len()
            + token_key_id.len(),
    );
    // Every value is base64url or hex, so none needs escaping.
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(names[0].as_bytes());
    out.extend_from_slice(b"\":\"");
    padding.encode_into(&challenge, &mut out);
    for (name, value) in [(&names[1], token_key), (&names[2], token_key_id)] {
        out.extend_from_slice(b"\",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"\"}");
    debug_assert_eq!(out.len(), out.capacity(), "the body is sized exactly");
    Ok(json_response(StatusCode::OK, out))
}

/// A fresh challenge for a claim type and namespace in the profile's
/// format (noted in the challenge log where the format needs it), with the
/// issuer key that backs it; `None` for a claim type the mock does not
/// serve. The challenge endpoint answers with it, and so does
/// generate-claim's 401 with `--challenge-on-401`.
pub(crate) fn make<'s>(
    state: &'s State,
    session: &str,
    now: std::time::Duration,
    claim_type: &str,
    namespace: Namespace,
) -> Option<(Vec<u8>, &'s IssuerKey)> {
    let (claim_index, key) = state.keys.get(namespace, claim_type)?;
    let challenge = match state.wire.challenge {
        ChallengeFormat::Rfc9577 => rfc9577(state, session, now, key, claim_index, namespace),
        ChallengeFormat::PersonaJson => persona_json(state, claim_type, namespace),
    };
    Some((challenge, key))
}

/// A binary RFC 9577 TokenChallenge, noted in the challenge log (what a
/// token's `challenge_digest` must name at generate-claim).
fn rfc9577(
    state: &State,
    session: &str,
    now: std::time::Duration,
    key: &IssuerKey,
    claim_index: u16,
    namespace: Namespace,
) -> Vec<u8> {
    let context = match state.challenge.redemption_context {
        RedemptionContext::Empty => None,
        RedemptionContext::Random => Some(state.fresh.next(Stream::RedemptionContext)),
    };
    let fields = ChallengeFields {
        token_type: key.token_type.code(),
        issuer_name: &state.challenge.issuer_name,
        redemption_context: context
            .as_ref()
            .map_or(&[][..], |c| &c[..REDEMPTION_CONTEXT_LEN]),
        origin_info: &state.challenge.origin_info,
    };
    let mut bytes = Vec::with_capacity(fields.encoded_len());
    fields
        .encode_into(&mut bytes)
        .expect("settings are validated to fit a challenge");
    state.challenges.record(
        &Sha256::digest(&bytes).into(),
        Issued::new(claim_index, namespace, now, session_hash(session)),
    );
    bytes
}

/// A JSON challenge of Persona's deployed dialect, bound to the claim type
/// and namespace by its MAC (nothing needs remembering).
fn persona_json(state: &State, claim_type: &str, namespace: Namespace) -> Vec<u8> {
    let expires = persona::expires_at(state.unix_now(), state.challenge_lifetime.as_secs());
    let expires_at = persona::format_time(expires);
    let issuer_name = &state.challenge.json_issuer_name;
    let mac = persona::mac(
        &state.mac_secret,
        2,
        issuer_name,
        persona::ORIGIN_INFO,
        &expires_at,
        claim_type,
        namespace.name(),
    );
    serde_json::to_vec(&persona::JsonChallenge {
        token_type: 2,
        issuer_name: issuer_name.clone(),
        origin_info: persona::ORIGIN_INFO.to_string(),
        expires_at,
        mac,
    })
    .expect("challenges serialize")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_the_request_struct() {
        crate::api::body::assert_schema_reads::<super::ChallengeRequest>(&super::SCHEMA);
    }
}
