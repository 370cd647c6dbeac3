//! The control API's view of the Relay flow: relays with their claims and
//! redemptions, completing a relay's verification, and the stores' sizes.

use crate::api::ApiError;
use crate::api::body::RequestBody;
use crate::api::response::{HttpResponse, json_value};
use crate::flow::ClaimResult;
use crate::flow::relays::{Completion, Method, Redemption, Relay, no_relay};
use crate::state::State;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct RelayView<'a> {
    relay_token: &'a str,
    relay_secret: &'a str,
    claim_type: &'a str,
    namespace: &'static str,
    claim_result: ClaimResult,
    methodology: &'a Option<Vec<Method>>,
    encrypted: bool,
    created: &'a str,
    claim_payload: String,
    redemptions: &'a [Redemption],
}

fn view(relay: &Relay) -> RelayView<'_> {
    RelayView {
        relay_token: &relay.token,
        relay_secret: &relay.secret,
        claim_type: &relay.claim_type,
        namespace: relay.namespace.name(),
        claim_result: relay.outcome.result,
        methodology: &relay.outcome.methodology,
        encrypted: relay.encryption_key.is_some(),
        created: &relay.created,
        claim_payload: super::claim::payload_json(&relay.claim_type, &relay.outcome),
        redemptions: &relay.redemptions,
    }
}

#[derive(Serialize)]
struct Store {
    count: usize,
    dropped: u64,
}

#[derive(Serialize)]
struct RelayList<'a> {
    session: Option<&'a str>,
    /// Relays in this page.
    count: usize,
    relays: Vec<RelayView<'a>>,
    /// The cursor of the next page (`?after=`), or null on the last one.
    next: Option<String>,
    stores: Stores,
}

/// Relays in a page when the request gives no `limit`.
pub(crate) const DEFAULT_PAGE: usize = 100;

#[derive(Serialize)]
struct Stores {
    relays: Store,
    challenges: Store,
    spent_tokens: Store,
    idempotency_keys: Store,
}

/// `GET /__mock/relays[?session=ID][&limit=N][&after=CURSOR]`: a page of
/// relays, oldest first.
pub(super) fn list(
    state: &State,
    session: Option<&str>,
    after: u64,
    limit: usize,
) -> Result<HttpResponse, ApiError> {
    let (relays, next) = state.relays.page(session, after, limit);
    let store = |(count, dropped): (usize, u64)| Store { count, dropped };
    let view = RelayList {
        session,
        count: relays.len(),
        relays: relays.iter().map(view).collect(),
        next: next.map(|cursor| cursor.to_string()),
        stores: Stores {
            relays: store(state.relays.counts()),
            challenges: store(state.challenges.counts()),
            spent_tokens: store(state.spent.counts()),
            idempotency_keys: store(state.idempotency.counts()),
        },
    };
    Ok(json_value(StatusCode::OK, &view))
}

/// `GET /__mock/relays/{token}`.
pub(super) fn show(state: &State, token: &str) -> Result<HttpResponse, ApiError> {
    let relay = state
        .relays
        .get_full(token)
        .ok_or_else(|| no_relay(token))?;
    Ok(json_value(StatusCode::OK, &view(&relay)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Complete {
    result: String,
    methodology: Option<Vec<MethodInput>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodInput {
    method: String,
    result: String,
}

const COMPLETE_USAGE: &str = r#"Send {"result": "passed" | "failed" | "pending"} and optionally "methodology": [{"method": "facial_age_estimation" | "document_selfie" | "live_selfie", "result": "passed" | "failed"}]."#;

/// `POST /__mock/relays/{token}/complete`: sets how the relay's
/// verification turned out (what generate-claim answers from now on).
pub(super) fn complete(
    state: &State,
    token: &str,
    body: &RequestBody,
) -> Result<HttpResponse, ApiError> {
    let bytes = super::whole_body(state, body)?;
    let input: Complete = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("{e}. {COMPLETE_USAGE}")))?;
    let relay = state.relays.complete(
        token,
        Completion {
            result: input.result,
            methodology: input
                .methodology
                .map(|list| list.into_iter().map(|m| (m.method, m.result)).collect()),
            allow_pending: true,
            methodology_field: "/methodology",
        },
    )?;
    Ok(json_value(StatusCode::OK, &view(&relay)))
}
