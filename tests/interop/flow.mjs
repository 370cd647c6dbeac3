// Drives the whole Relay flow through persona-mock with
// @cloudflare/privacypass-ts as the client: the library builds the
// TokenRequest from the mock's challenge and token key, the mock issues
// through /api/v1/privacy-passes, the library finalizes the token, and the
// mock redeems it at generate-claim. A tampered token, a reused token and a
// token of another claim type must be refused.
//
// With a fourth argument, challenge-on-401 (the mock started with
// --challenge-on-401), the challenge comes instead from generate-claim's
// 401: the library reads WWW-Authenticate, and the token built from that
// challenge must redeem the relay.
//
// Usage: node flow.mjs BASE_URL TOKEN_TYPE LABEL [challenge-on-401]
import { createHash } from 'node:crypto';
import { TokenChallenge, WWWAuthenticateHeader, privateVerif, publicVerif } from '@cloudflare/privacypass-ts';

const [baseUrl, tokenTypeArg, label, dialect] = process.argv.slice(2);
const tokenType = Number(tokenTypeArg);
const apiKey = 'Bearer persona_sandbox_interop';
let passed = 0;
let failed = 0;

function fromB64url(text) {
  // A fresh Uint8Array: a pooled Buffer slice makes the library read the wrong offset.
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

function toB64url(bytes) {
  return Buffer.from(bytes).toString('base64url');
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAILED - ${name}: ${error.stack ?? error}`);
  }
}

async function post(path, body, headers = {}) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

function newClient() {
  return tokenType === 1
    ? new privateVerif.Client()
    : new publicVerif.Client(publicVerif.BlindRSAMode.PSS);
}

// Challenge, TokenRequest, issuance and finalization by the library.
async function issueToken(claimType, sandbox) {
  const challengeReply = await post('/api/privacy/v1/relays/challenge', { claimType, sandbox });
  assert(challengeReply.status === 200, `challenge status ${challengeReply.status}`);
  const challenge = TokenChallenge.deserialize(fromB64url(challengeReply.body['challenge']));
  const tokenKey = fromB64url(challengeReply.body['token-key']);
  return issueFor(challenge, tokenKey, challengeReply.body['token-key-id']);
}

// A token for a challenge and token key, issued by the mock.
async function issueFor(challenge, tokenKey, tokenKeyId) {
  assert(challenge.tokenType === tokenType, `token type ${challenge.tokenType}`);
  const client = newClient();
  const request = await client.createTokenRequest(challenge, tokenKey);
  const issued = await post(
    '/api/v1/privacy-passes',
    { 'blinded-token': toB64url(request.serialize()), 'key-id': tokenKeyId },
    { Authorization: apiKey },
  );
  assert(issued.status === 201, `issuance status ${issued.status}: ${JSON.stringify(issued.body)}`);
  const response = client.deserializeTokenResponse(fromB64url(issued.body['blind-sig']));
  const token = await client.finalize(response);
  return token.serialize();
}

async function redeem(relay, token) {
  return post(`/api/privacy/v1/relays/${relay['relay-token']}/generate-claim`, {}, {
    Authorization: `PrivateToken token="${toB64url(token)}"`,
    'Persona-Relay-Secret': relay['relay-secret'],
  });
}

for (const sandbox of [false, true]) {
  const namespace = sandbox ? 'sandbox' : 'production';
  await check(`type ${tokenType} flow, ${namespace} (${label})`, async () => {
    const created = await post('/api/privacy/v1/relays', {
      claimType: 'age_over18_verified',
      encryptionKeyPem: null,
      sandbox,
    });
    assert(created.status === 201, `create status ${created.status}`);
    const relay = created.body;
    const token = await issueToken('age_over18_verified', sandbox);
    assert(token.length === (tokenType === 1 ? 146 : 354), `token length ${token.length}`);

    const tampered = new Uint8Array(token);
    tampered[tampered.length - 1] ^= 1;
    const refused = await redeem(relay, tampered);
    assert(refused.status === 401, `tampered token: status ${refused.status}`);

    const other = await issueToken('age_over21_verified', sandbox);
    const wrongClaim = await redeem(relay, other);
    assert(wrongClaim.status === 401, `another claim type's token: status ${wrongClaim.status}`);

    const claim = await redeem(relay, token);
    assert(claim.status === 200, `claim status ${claim.status}: ${JSON.stringify(claim.body)}`);
    assert(claim.body['token-consumed'] === true, 'token-consumed');
    const payload = JSON.parse(claim.body['claim-payload']);
    assert(payload.claim_result === 'passed', `claim_result ${payload.claim_result}`);

    const reused = await redeem(relay, token);
    assert(reused.status === 409, `reused token: status ${reused.status}`);
  });
}

if (dialect === 'challenge-on-401') {
  await check(`type ${tokenType}: the challenge from generate-claim's 401 (${label})`, async () => {
    const created = await post('/api/privacy/v1/relays', { claimType: 'age_over21_verified', encryptionKeyPem: null });
    assert(created.status === 201, `create status ${created.status}`);
    const relay = created.body;
    const asked = await post(`/api/privacy/v1/relays/${relay['relay-token']}/generate-claim`, {}, {
      'Persona-Relay-Secret': relay['relay-secret'],
    });
    assert(asked.status === 401, `no token: status ${asked.status}`);
    assert(
      asked.body.errors[0].details === 'Use the provided challenge to obtain a token',
      `details ${JSON.stringify(asked.body)}`,
    );
    const header = asked.headers.get('www-authenticate');
    assert(header, 'no WWW-Authenticate');
    const parsed = WWWAuthenticateHeader.parse(header);
    assert(parsed.length === 1, `${parsed.length} PrivateToken challenges in ${header}`);
    const { challenge, tokenKey, maxAge } = parsed[0];
    assert(maxAge > 0, `max-age ${maxAge}`);
    const keyId = createHash('sha256').update(tokenKey).digest('hex');
    const token = await issueFor(challenge, tokenKey, keyId);
    const claim = await redeem(relay, token);
    assert(claim.status === 200, `claim status ${claim.status}: ${JSON.stringify(claim.body)}`);
    assert(JSON.parse(claim.body['claim-payload']).claim_type === 'age_over21_verified', 'claim type');
  });
}

console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
