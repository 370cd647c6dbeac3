#!/usr/bin/env bash
# Finishes the hosted-flow page in headless Chromium against a fresh
# persona-mock. Needs node, npm and Debian's chromium (.ci/run installs them);
# installs playwright-core (no browser download) into tests/browser.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
npm install --no-audit --no-fund --silent
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
log="$(mktemp)"
"$root/target/release/persona-mock" --port 0 >"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
url="$(sed -n 's/^persona-mock listening on //p' "$log")"
status=0
node hosted.mjs "$url" || status=1
kill -TERM "$pid"
wait "$pid" || status=1
exit "$status"
