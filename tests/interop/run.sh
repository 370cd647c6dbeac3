#!/usr/bin/env bash
# Runs check.mjs against a freshly started persona-mock, once per profile.
# Needs node and npm; installs the client library into tests/interop.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
npm install --no-audit --no-fund --silent
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
status=0
for profile in rfc9578 reference; do
  log="$(mktemp)"
  "$root/target/release/persona-mock" --port 0 --profile "$profile" --config "$root/fixtures/keys.toml" >"$log" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
  url="$(sed -n 's/^persona-mock listening on //p' "$log")"
  node check.mjs "$url" "$root/fixtures/keys" "$profile" || status=1
  kill -TERM "$pid"
  wait "$pid" || status=1
  rm -f "$log"
done
exit "$status"
