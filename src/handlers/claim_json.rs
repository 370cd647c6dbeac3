//! Generate-claim's token checks in Persona's deployed dialect (the
//! `persona-sdk` profile), in Persona's documented order: the MAC over the
//! echoed challenge fields, `expires_at`, `origin_info`, the claim type and
//! namespace the MAC binds, the key, the signature over the rebuilt token
//! input. Each failure is a 401 naming the check (never 403, 429 or 5xx,
//! which Persona's SDK retries); the nonce's single spend is checked after.

use super::{diagnose, invalid};
use crate::api::{ApiError, Refusal};
use crate::flow::relays::Relay;
use crate::keys::Namespace;
use crate::privacypass::persona::{self, EchoedChallenge, JsonToken};
use crate::privacypass::{b64, hex};
use crate::state::State;

/// Verifies a JSON token for `relay`; returns its nonce.
pub(super) fn verify(state: &State, relay: &Relay, credential: &str) -> Result<[u8; 32], ApiError> {
    let bytes = b64::decode(credential.trim()).map_err(|_| {
        invalid(diagnose::with(
            "The PrivateToken token is not base64url (the alphabet with '-' and '_').",
            diagnose::standard_base64(credential),
        ))
    })?;
    let token: JsonToken = serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "The token is not Persona's JSON token ({e}): it is base64url of {{\"token_nonce\":…,\"signature\":…,\"key_id\":…,\"challenge\":{{…}}}}."
        ))
    })?;
    let nonce = persona::nonce_bytes(&token.token_nonce)
        .ok_or_else(|| invalid("The token's token_nonce is not 64 lowercase hex characters."))?;
    let challenge = &token.challenge;
    let (claim_type, namespace) = mac_scope(state, relay, challenge)?;
    let expires = persona::parse_time(&challenge.expires_at).ok_or_else(|| {
        invalid("The challenge's expires_at is not a time like 2026-06-25T20:00:00Z.")
    })?;
    if state.unix_now() >= expires {
        return Err(invalid(format!(
            "The token's challenge expired at {}: request a new challenge.",
            challenge.expires_at
        ))
        .because(Refusal::ExpiredChallenge));
    }
    if challenge.origin_info != persona::ORIGIN_INFO {
        return Err(invalid(format!(
            "The challenge's origin_info is {:?}; tokens redeem at {:?}.",
            crate::api::conventions::truncate(&challenge.origin_info),
            persona::ORIGIN_INFO
        )));
    }
    if claim_type != relay.claim_type || namespace != relay.namespace {
        return Err(invalid(format!(
            "The token's challenge was issued for {claim_type} ({}), but this relay is for {} ({}).",
            namespace.name(),
            relay.claim_type,
            relay.namespace.name()
        ))
        .because(Refusal::WrongClaimType));
    }
    let (_, key) = state
        .keys
        .get(relay.namespace, &relay.claim_type)
        .expect("relays are created for served claim types");
    if token.key_id != key.token_key_id_hex() {
        return Err(invalid(format!(
            "The token's key_id {:?} is not the token-key-id of this relay's key ({} {}).",
            crate::api::conventions::truncate(&token.key_id),
            relay.claim_type,
            relay.namespace.name()
        )));
    }
    let signature = b64::decode(&token.signature).map_err(|_| {
        invalid(diagnose::with(
            "The token's signature is not base64url.",
            diagnose::standard_base64(&token.signature),
        ))
    })?;
    let input = persona::token_input(&token.token_nonce, &challenge.mac, &token.key_id);
    if !key.secret().verify(&input, &signature) {
        return Err(invalid(diagnose::with(
            "The token's signature does not verify (RSASSA-PSS, SHA-384, salt 48) over 0x0002 || SHA-256(token_nonce) || SHA-256(mac) || SHA-256(key_id) with the key key_id names.",
            diagnose::signature_variant(state, key, &signature),
        )));
    }
    Ok(nonce)
}

/// The claim type and namespace whose MAC the echoed challenge carries:
/// the relay's first (one HMAC), else any served one; none is a 401.
fn mac_scope<'s>(
    state: &'s State,
    relay: &'s Relay,
    challenge: &EchoedChallenge,
) -> Result<(&'s str, Namespace), ApiError> {
    let matches = |claim_type: &str, namespace: Namespace| {
        let expected = persona::mac(
            &state.mac_secret,
            challenge.token_type,
            &challenge.issuer_name,
            &challenge.origin_info,
            &challenge.expires_at,
            claim_type,
            namespace.name(),
        );
        hex::constant_time_eq(expected.as_bytes(), challenge.mac.as_bytes())
    };
    if matches(&relay.claim_type, relay.namespace) {
        return Ok((&relay.claim_type, relay.namespace));
    }
    Namespace::ALL
        .into_iter()
        .flat_map(|namespace| {
            state
                .keys
                .claim_types()
                .iter()
                .map(move |claim_type| (claim_type.as_str(), namespace))
        })
        .find(|(claim_type, namespace)| matches(claim_type, *namespace))
        .ok_or_else(|| {
            // Name the field when putting it back makes the MAC match.
            let mut restored = challenge.clone();
            restored.origin_info = persona::ORIGIN_INFO.to_string();
            let field = if challenge.origin_info != persona::ORIGIN_INFO
                && mac_scope(state, relay, &restored).is_ok()
            {
                "origin_info"
            } else {
                "its fields"
            };
            invalid(format!(
                "The challenge's mac does not match {field}: the challenge was altered, or persona-mock did not issue it."
            ))
        })
}
