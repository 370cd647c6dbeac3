#!/usr/bin/env bash
# Runs the interop checks against freshly started persona-mocks: check.mjs
# (challenges and keys, once per profile) and flow.mjs (the whole Relay flow
# with the library as the client, for token types 1 and 2).
# Needs node and npm; installs the client library into tests/interop.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
npm install --no-audit --no-fund --silent
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
status=0

# with_mock FLAGS... -- COMMAND ARGS...: starts persona-mock with FLAGS,
# runs COMMAND with the mock's URL as its first argument, then ARGS, and
# stops the mock.
with_mock() {
  local flags=()
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  local command="$1"
  shift
  local log
  log="$(mktemp)"
  "$root/target/release/persona-mock" --port 0 "${flags[@]}" >"$log" &
  local pid=$!
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
  local url
  url="$(sed -n 's/^persona-mock listening on //p' "$log")"
  node "$command" "$url" "$@" || status=1
  kill -TERM "$pid"
  wait "$pid" || status=1
  rm -f "$log"
}

for profile in rfc9578 reference; do
  with_mock --profile "$profile" --config "$root/fixtures/keys.toml" -- \
    check.mjs "$root/fixtures/keys" "$profile"
done
with_mock --profile rfc9578 --config "$root/fixtures/keys.toml" -- flow.mjs 1 rfc9578
with_mock --profile rfc9578 --config "$root/fixtures/keys-rsa.toml" -- flow.mjs 2 rfc9578
with_mock --profile reference --config "$root/fixtures/keys-rsa.toml" -- flow.mjs 2 reference
with_mock --profile rfc9578 --challenge-on-401 --config "$root/fixtures/keys.toml" -- \
  flow.mjs 1 rfc9578 challenge-on-401
with_mock --profile rfc9578 --challenge-on-401 --config "$root/fixtures/keys-rsa.toml" -- \
  flow.mjs 2 rfc9578 challenge-on-401
exit "$status"
