// Checks persona-mock's challenges and keys with @cloudflare/privacypass-ts,
// an RFC 9577/9578 client that shares no code with persona-mock.
//
// Usage: node check.mjs BASE_URL KEY_DIR PROFILE
// The mock must serve the keys in KEY_DIR (fixtures/keys.toml does) with
// PROFILE (rfc9578 or reference). With rfc9578, every claim type's challenge
// and token-key must take a client through a full VOPRF issuance against an
// issuer holding the PEM private key; with reference, the DER token-key must
// be refused, which is why the rfc9578 profile exists.
import { createPrivateKey, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TokenChallenge, privateVerif } from '@cloudflare/privacypass-ts';

const [baseUrl, keyDir, profile] = process.argv.slice(2);
const claimTypes = ['live_human_presence', 'age_over18_verified', 'age_over21_verified'];
let passed = 0;
let failed = 0;

function fromB64url(text) {
  // A fresh Uint8Array: a pooled Buffer slice makes the library read the wrong offset.
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

function secretScalar(path) {
  const jwk = createPrivateKey(readFileSync(path, 'utf8')).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.d, 'base64url'));
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

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

for (const sandbox of [false, true]) {
  for (const claimType of claimTypes) {
    const label = `${claimType} (${sandbox ? 'sandbox' : 'production'}, ${profile})`;
    await check(label, async () => {
      const response = await fetch(`${baseUrl}/api/privacy/v1/relays/challenge`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ claimType, sandbox }),
      });
      assert(response.status === 200, `status ${response.status}`);
      const body = await response.json();
      const challengeBytes = fromB64url(body['challenge']);
      const challenge = TokenChallenge.deserialize(challengeBytes);
      assert(challenge.tokenType === 1, `token type ${challenge.tokenType}`);
      assert(challenge.issuerName === 'api.withpersona.com', `issuer ${challenge.issuerName}`);
      assert(challenge.redemptionContext.length === 32, 'redemption context length');
      assert(JSON.stringify(challenge.originInfo) === '["api.withpersona.com"]', `origin ${challenge.originInfo}`);
      assert(Buffer.from(challenge.serialize()).equals(Buffer.from(challengeBytes)), 're-serialization differs');

      const tokenKey = fromB64url(body['token-key']);
      const keyId = createHash('sha256').update(tokenKey).digest('hex');
      assert(keyId === body['token-key-id'], 'token-key-id is not SHA-256 of token-key');

      const pem = `${keyDir}/${sandbox ? 'sandbox' : 'production'}/${claimType}.pem`;
      const issuer = new privateVerif.Issuer(challenge.issuerName, secretScalar(pem), tokenKey);
      const client = new privateVerif.Client();
      let token;
      try {
        const request = await client.createTokenRequest(challenge, tokenKey);
        assert(request.truncatedTokenKeyId === parseInt(keyId.slice(-2), 16), 'truncated key id');
        token = await client.finalize(await issuer.issue(request));
      } catch (error) {
        if (profile === 'reference') return; // expected: RFC clients cannot use a DER type-1 key
        throw error;
      }
      assert(profile !== 'reference', 'an RFC client accepted a DER token-key');
      assert(await issuer.verify(token), 'the issued token does not verify');
    });
  }
}

console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
