// Opens the mock's hosted-flow page in headless Chromium (the system's,
// driven by playwright-core), finishes it as failed with a methodology, and
// checks that generate-claim's outcome changed: what a browser test of a
// client's Relay integration does. Usage: node hosted.mjs BASE_URL
import { chromium } from 'playwright-core';

const [baseUrl] = process.argv.slice(2);
let passed = 0;
let failures = 0;

function check(condition, message) {
  console.log(`${condition ? 'ok' : 'FAILED'} - ${message}`);
  if (condition) passed += 1;
  else failures += 1;
}

async function post(path, body) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const created = await post('/api/privacy/v1/relays', {
  claimType: 'age_over18_verified',
  encryptionKeyPem: null,
});
check(created.status === 201, `relay created (${created.status})`);
const relay = created.body;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const blocked = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  const url = `${baseUrl}/relay?relay-session-access-token=${relay['relay-session-access-token']}&theme=auto`;
  const response = await page.goto(url);
  check(/script-src 'sha256-/.test(response.headers()['content-security-policy'] ?? ''), 'the page is sent with its content security policy');
  check((await page.textContent('#claim-type')) === 'age_over18_verified', 'the page shows the claim type');
  check((await page.textContent('#namespace')) === 'production', 'the page shows the namespace');
  await page.selectOption('#method', 'live_selfie');
  await page.click('#fail');
  await page.waitForFunction(() => document.getElementById('status').textContent.length > 0);
  const status = await page.textContent('#status');
  check(status === 'Verification finished: failed', `the page reports the outcome (${status})`);
  check(blocked.length === 0, `the policy blocks nothing the page needs (${blocked.join('; ')})`);
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
} finally {
  await browser.close();
}

const view = await fetch(`${baseUrl}/__mock/relays/${relay['relay-token']}`).then((r) => r.json());
check(view.claim_result === 'failed', `the relay's claim is failed (${view.claim_result})`);
check(view.methodology?.[0]?.method === 'live_selfie', 'with the methodology chosen');

console.log(`browser: ${passed} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
