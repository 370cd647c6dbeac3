//! `POST /api/privacy/v1/relays/{relay-token}/generate-claim`: redeems a
//! Privacy Pass at a relay. Each check has its own answer, in this order:
//! relay and secret (404), token (401: parse, key, challenge, authenticator),
//! nonce unspent (409), then the claim itself (pending 403; failed 200 with
//! the token refunded; passed 200 with the token consumed).

use super::{Ctx, diagnose, invalid};
use crate::api::body::Body;
use crate::api::response::HttpResponse;
use crate::api::{ApiError, Refusal};
use crate::flow::ClaimResult;
use crate::flow::relays::{MAX_REDEMPTIONS, Outcome, Redemption, Relay};
use crate::keys::IssuerKey;
use crate::privacypass::{Token, TokenError, b64, hex};
use crate::profile::ChallengeFormat;
use crate::settings::OaepHash;
use crate::state::State;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde_json::Value;

use crate::api::conventions::RELAY_SECRET;

/// Redeems a token at a relay.
pub(crate) fn handle(state: &State, ctx: &Ctx<'_>, body: &Body) -> Result<HttpResponse, ApiError> {
    check_body(body)?;
    let secret = ctx
        .headers
        .get(&RELAY_SECRET)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "Persona-Relay-Secret is required: send the relay-secret that creating the relay returned.",
            )
        })?;
    let relay = ctx
        .param
        .and_then(|token| state.relays.get(token))
        .filter(|relay| hex::constant_time_eq(relay.secret.as_bytes(), secret.as_bytes()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "No relay matches this relay token and Persona-Relay-Secret.",
            )
        })?;
    let credential = ctx.private_token.as_deref().unwrap_or_default();
    let nonce = match state.wire.challenge {
        ChallengeFormat::Rfc9577 => rfc9577_token(state, &relay, credential)?,
        ChallengeFormat::PersonaJson => super::claim_json::verify(state, &relay, credential)?,
    };
    if state.spent.is_spent(&nonce) {
        return Err(double_spend());
    }
    let outcome = match ctx.claim_result {
        Some(result) => Outcome::default_for(&relay.claim_type, result),
        None => relay.outcome.clone(),
    };
    let consumed = match outcome.result {
        ClaimResult::Pending => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "The relay's verification is not finished yet; retry later. The token was not consumed.",
            ));
        }
        ClaimResult::Failed => false,
        ClaimResult::Passed => {
            if !state.spent.spend(&nonce, ctx.session) {
                return Err(double_spend());
            }
            true
        }
    };
    let payload = claim_payload(state, &relay, &outcome)?;
    state.relays.update(&relay.token, |relay| {
        if relay.redemptions.len() >= MAX_REDEMPTIONS {
            relay.redemptions.remove(0);
        }
        relay.redemptions.push(Redemption {
            time: crate::journal::rfc3339(state.wall_time(ctx.now)),
            nonce: hex::encode(&nonce),
            claim_result: outcome.result,
            token_consumed: consumed,
        });
    });
    Ok(super::inflected(
        StatusCode::OK,
        ctx.inflection,
        &[
            ("claim-payload", Value::from(payload)),
            ("token-consumed", Value::from(consumed)),
        ],
    ))
}

/// With `--challenge-on-401`, the `WWW-Authenticate` of generate-claim's
/// 401 for a request without a token: a fresh challenge for the relay's
/// claim type and namespace (in the profile's format, recorded like the
/// challenge endpoint's) and its issuer key, as RFC 9577 §2.1's
/// `PrivateToken challenge="…", token-key="…", max-age="…"`. `None` when
/// the path names no relay (the 401 stays the current one).
pub(crate) fn token_challenge(
    state: &State,
    relay_token: Option<&str>,
    session: &str,
    now: std::time::Duration,
) -> Option<HeaderValue> {
    let relay = state.relays.get(relay_token?)?;
    let (challenge, key) =
        super::challenge::make(state, session, now, &relay.claim_type, relay.namespace)?;
    let value = format!(
        "PrivateToken challenge=\"{}\", token-key=\"{}\", max-age=\"{}\"",
        state.wire.padding.encode(&challenge),
        key.token_key_b64(),
        state.challenge_lifetime.as_secs()
    );
    HeaderValue::from_str(&value).ok()
}

/// The body is empty or `{}` (clients send `{}`).
fn check_body(body: &Body) -> Result<(), ApiError> {
    if body.bytes().iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match body.json() {
        Ok(crate::api::body::Json::Object(fields)) if fields.is_empty() => Ok(()),
        Ok(crate::api::body::Json::Object(fields)) => Err(ApiError::bad_request(format!(
            "generate-claim takes no fields (got {:?}); send {{}} or no body.",
            crate::api::conventions::truncate(&fields[0].sent)
        ))),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be {} or empty.",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}

/// The checks of an RFC 9577 token, in order: it parses, its key is the
/// relay's, its challenge is the relay's and alive, its authenticator
/// verifies. Returns its nonce.
fn rfc9577_token(state: &State, relay: &Relay, credential: &str) -> Result<[u8; 32], ApiError> {
    let token = read_token(credential)?;
    let key = check_key(state, relay, &token)?;
    check_challenge(state, relay, &token)?;
    if !key.secret().verify(&token.input(), &token.authenticator) {
        return Err(invalid(diagnose::with(
            "The token's authenticator does not verify with the issuer key: the token was altered, or finalized from another issuance.",
            diagnose::signature_variant(state, key, &token.authenticator),
        )));
    }
    Ok(token.nonce)
}

fn double_spend() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "This Privacy Pass was redeemed already; each token is spent once. Issue a new one.",
    )
    .because(Refusal::TokenReuse)
}

/// The token in the credential: base64url, padded or not.
fn read_token(credential: &str) -> Result<Token, ApiError> {
    let bytes = b64::decode(credential.trim()).map_err(|_| {
        invalid(diagnose::with(
            "The PrivateToken token is not base64url (the alphabet with '-' and '_').",
            diagnose::standard_base64(credential),
        ))
    })?;
    Token::decode(&bytes).map_err(|error| {
        let mistake = match error {
            TokenError::Length {
                token_type, got, ..
            } => diagnose::token_type_for_length(token_type, got),
            _ => None,
        };
        invalid(diagnose::with(
            format!("The token cannot be read: {error}."),
            mistake,
        ))
    })
}

/// The relay's issuer key, which must be the token's.
fn check_key<'s>(
    state: &'s State,
    relay: &Relay,
    token: &Token,
) -> Result<&'s IssuerKey, ApiError> {
    let (_, key) = state
        .keys
        .get(relay.namespace, &relay.claim_type)
        .expect("relays are created for served claim types");
    if key.token_type != token.token_type {
        return Err(invalid(diagnose::with(
            format!(
                "The token is of type {:#06x}, and this relay's key issues type {:#06x}.",
                token.token_type.code(),
                key.token_type.code()
            ),
            diagnose::token_type(token.token_type, key),
        )));
    }
    if key.has_id(&token.token_key_id) {
        return Ok(key);
    }
    Err(match state.keys.find(&token.token_key_id) {
        Some((namespace, claim_type, _)) => invalid(format!(
            "The token was issued with the key of {claim_type} ({}), but this relay is for {} ({}).",
            namespace.name(),
            relay.claim_type,
            relay.namespace.name()
        ))
        .because(Refusal::WrongClaimType),
        None => invalid(diagnose::with(
            "The token's key id names no issuer key of persona-mock (for this token type).",
            diagnose::key_id(key, &token.token_key_id),
        )),
    })
}

/// The token's challenge: issued by this mock, within its lifetime, for the
/// relay's claim type and namespace.
fn check_challenge(state: &State, relay: &Relay, token: &Token) -> Result<(), ApiError> {
    let issued = state.challenges.get(&token.challenge_digest).ok_or_else(|| {
        invalid(diagnose::with(
            "The token's challenge_digest names no challenge persona-mock issued (it keeps the last 100,000): request a challenge from /api/privacy/v1/relays/challenge.",
            diagnose::challenge_digest(state, &token.challenge_digest),
        ))
    })?;
    let age = state.clock.now().saturating_sub(issued.at());
    if age > state.challenge_lifetime {
        return Err(invalid(format!(
            "The token's challenge expired: challenges back tokens for {} s after they are issued.",
            state.challenge_lifetime.as_secs()
        ))
        .because(Refusal::ExpiredChallenge));
    }
    let issued_claim = state
        .keys
        .claim_types()
        .get(usize::from(issued.claim_type))
        .map_or("another claim type", String::as_str);
    if issued_claim != relay.claim_type || issued.namespace != relay.namespace {
        return Err(invalid(format!(
            "The token's challenge was issued for {} ({}), but this relay is for {} ({}).",
            issued_claim,
            issued.namespace.name(),
            relay.claim_type,
            relay.namespace.name()
        ))
        .because(Refusal::WrongClaimType));
    }
    Ok(())
}

/// The claim payload: a JSON string, snake_case inside, RSA-OAEP-encrypted
/// and base64-encoded when the relay has an encryption key.
fn claim_payload(state: &State, relay: &Relay, outcome: &Outcome) -> Result<String, ApiError> {
    let text = payload_json(&relay.claim_type, outcome);
    let Some(key) = &relay.encryption_key else {
        return Ok(text);
    };
    let mut rng = rand::rng();
    let encrypted = match state.relay_settings.oaep_hash {
        OaepHash::Sha256 => {
            key.0
                .encrypt(&mut rng, rsa::Oaep::<sha2::Sha256>::new(), text.as_bytes())
        }
        OaepHash::Sha1 => key
            .0
            .encrypt(&mut rng, rsa::Oaep::<sha1::Sha1>::new(), text.as_bytes()),
    }
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The claim payload could not be encrypted to the relay's key: {e}."),
        )
    })?;
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(encrypted))
}

/// `{"claim_type":…,"claim_result":…,"methodology":[…]}`, in that order.
pub(crate) fn payload_json(claim_type: &str, outcome: &Outcome) -> String {
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        claim_type: &'a str,
        claim_result: ClaimResult,
        #[serde(skip_serializing_if = "Option::is_none")]
        methodology: Option<&'a [crate::flow::relays::Method]>,
    }
    serde_json::to_string(&Payload {
        claim_type,
        claim_result: outcome.result,
        methodology: outcome.methodology.as_deref(),
    })
    .expect("payloads serialize")
}
