//! A Privacy Pass client for the tests, written from the RFCs with the
//! client halves of the crypto crates (VOPRF blinding and finalization,
//! Blind RSA blinding and finalization), never the mock's own code: it does
//! what a client team's integration does, step by step.

use crate::support::{CHALLENGE, Reply, send};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use blind_rsa_signatures::{BlindSignature, PublicKeySha384PSSDeterministic};
use p384::NistP384;
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use voprf::{EvaluationElement, Group, Proof, VoprfClient};

pub const RELAYS: &str = "/api/privacy/v1/relays";
pub const ISSUE: &str = "/api/v1/privacy-passes";
pub const API_KEY: &str = "Bearer persona_sandbox_flow_test";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    let text = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// What the challenge endpoint answered.
#[derive(Clone, Debug)]
pub struct Issued {
    pub challenge: Vec<u8>,
    pub token_key: Vec<u8>,
    pub token_key_id: String,
}

/// A relay as create answered it.
#[derive(Clone, Debug)]
pub struct Relay {
    pub token: String,
    pub secret: String,
    pub session_token: String,
}

/// The client, against one server.
pub struct Client {
    pub addr: SocketAddr,
    pub session: String,
    /// Headers sent with every request (a disciplined client's
    /// `Persona-Version`, say).
    pub headers: Vec<(&'static str, String)>,
    /// Whether issuance and generate-claim requests carry a fresh
    /// `Idempotency-Key` (unless the call passes one).
    pub idempotency: bool,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            session: "flow".into(),
            headers: Vec::new(),
            idempotency: false,
        }
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut all = vec![
            ("Content-Type", "application/json"),
            ("Persona-Mock-Session", self.session.as_str()),
        ];
        all.extend(self.headers.iter().map(|(n, v)| (*n, v.as_str())));
        all.extend_from_slice(headers);
        let key = format!("key-{}", rand::rng().next_u64());
        let keyed = path == ISSUE || path.ends_with("/generate-claim");
        if self.idempotency
            && keyed
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("idempotency-key"))
        {
            all.push(("Idempotency-Key", key.as_str()));
        }
        send(self.addr, "POST", path, &all, body.as_bytes()).await
    }

    pub async fn challenge(&self, claim_type: &str, sandbox: bool) -> Issued {
        let body = json!({"claim-type": claim_type, "sandbox": sandbox}).to_string();
        let reply = self.post(CHALLENGE, &[], &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let json = reply.json();
        Issued {
            challenge: unb64(json["challenge"].as_str().unwrap()),
            token_key: unb64(json["token-key"].as_str().unwrap()),
            token_key_id: json["token-key-id"].as_str().unwrap().to_string(),
        }
    }

    pub async fn create_relay(&self, claim_type: &str, sandbox: bool, pem: Option<&str>) -> Relay {
        let reply = self.create_relay_reply(claim_type, sandbox, pem).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let json = reply.json();
        Relay {
            token: json["relay-token"].as_str().unwrap().to_string(),
            secret: json["relay-secret"].as_str().unwrap().to_string(),
            session_token: json["relay-session-access-token"]
                .as_str()
                .unwrap()
                .to_string(),
        }
    }

    pub async fn create_relay_reply(
        &self,
        claim_type: &str,
        sandbox: bool,
        pem: Option<&str>,
    ) -> Reply {
        let body = json!({"claim-type": claim_type, "encryption-key-pem": pem, "sandbox": sandbox});
        self.post(RELAYS, &[], &body.to_string()).await
    }

    pub async fn issue_reply(&self, blinded: &[u8], key_id: &str) -> Reply {
        let body = json!({"blinded-token": b64(blinded), "key-id": key_id}).to_string();
        self.post(ISSUE, &[("Authorization", API_KEY)], &body).await
    }

    /// Blinds a token input for the challenge, has it issued, and finalizes
    /// the token: RFC 9578 type 1 or 2, as the token key says.
    pub async fn token(&self, issued: &Issued) -> Vec<u8> {
        let input = token_input(issued);
        let mut token = input.clone();
        if is_rsa(issued) {
            let pk = PublicKeySha384PSSDeterministic::from_spki(&issued.token_key).unwrap();
            let blinding = pk.blind(&mut rand::rng(), &input).unwrap();
            let reply = self
                .issue_reply(&blinding.blind_message.0, &issued.token_key_id)
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text());
            let sig = unb64(reply.json()["blind-sig"].as_str().unwrap());
            assert_eq!(sig.len(), 256);
            let signature = pk
                .finalize(&BlindSignature(sig), &blinding, &input)
                .expect("the blind signature finalizes and verifies");
            token.extend_from_slice(&signature.0);
        } else {
            let blind = VoprfClient::<NistP384>::blind(&input, &mut rand::rng()).unwrap();
            let reply = self
                .issue_reply(&blind.message.serialize(), &issued.token_key_id)
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text());
            let sig = unb64(reply.json()["blind-sig"].as_str().unwrap());
            assert_eq!(sig.len(), 145);
            let element = EvaluationElement::<NistP384>::deserialize(&sig[..49]).unwrap();
            let proof = Proof::<NistP384>::deserialize(&sig[49..]).unwrap();
            let output = blind
                .state
                .finalize(&input, &element, &proof, p384_point(&issued.token_key))
                .expect("the proof verifies");
            token.extend_from_slice(&output);
        }
        token
    }

    pub async fn redeem(&self, relay: &Relay, token: &[u8]) -> Reply {
        self.redeem_with(relay, token, &[]).await
    }

    pub async fn redeem_with(&self, relay: &Relay, token: &[u8], extra: &[(&str, &str)]) -> Reply {
        let auth = format!("PrivateToken token={}", b64(token));
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Persona-Relay-Secret", relay.secret.as_str()),
        ];
        headers.extend_from_slice(extra);
        self.post(&claim_path(&relay.token), &headers, "{}").await
    }
}

pub fn claim_path(relay: &str) -> String {
    format!("{RELAYS}/{relay}/generate-claim")
}

/// Whether the token key is an RSA (type 2) key.
pub fn is_rsa(issued: &Issued) -> bool {
    issued.token_key.len() > 200
}

/// `token_type || nonce || SHA-256(challenge) || SHA-256(token-key)`.
pub fn token_input(issued: &Issued) -> Vec<u8> {
    let token_type: u16 = if is_rsa(issued) { 2 } else { 1 };
    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let mut input = token_type.to_be_bytes().to_vec();
    input.extend_from_slice(&nonce);
    input.extend_from_slice(&Sha256::digest(&issued.challenge));
    input.extend_from_slice(&Sha256::digest(&issued.token_key));
    input
}

/// The P-384 point of a token key: DER SPKI (its last 97 bytes are the
/// uncompressed point) or the 49-byte compressed point.
fn p384_point(token_key: &[u8]) -> <NistP384 as Group>::Elem {
    let sec1 = if token_key.len() == 120 {
        &token_key[23..]
    } else {
        token_key
    };
    let point = p384::PublicKey::from_sec1_bytes(sec1).expect("a P-384 point");
    let compressed = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, true);
    NistP384::deserialize_elem(compressed.as_bytes()).unwrap()
}

/// The JSON inside a claim payload.
pub fn payload(reply: &Reply) -> Value {
    let text = reply.json()["claim-payload"].as_str().unwrap().to_string();
    serde_json::from_str(&text).unwrap()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
