#!/usr/bin/env bash
# Runs schemathesis against a freshly started persona-mock with openapi.yaml:
# no 5xx, every status, content type, header and body as the document says,
# schema-violating requests rejected, undeclared methods answered 405 with
# Allow. Installs schemathesis from PyPI if missing.
#
# positive_data_acceptance is left out: persona-mock rightly refuses some
# schema-valid requests the document cannot describe (a Persona-Mock-Scenario
# naming no scenario, scenario TOML with errors), each with a documented 4xx.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
examples="${1:-50}"
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet schemathesis
# The script pip installed, even where no shim or PATH entry points at it yet.
st="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/schemathesis"
[ -x "$st" ] || st="$(command -v schemathesis)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
log="$(mktemp)"
"$root/target/release/persona-mock" --port 0 >"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
url="$(sed -n 's/^persona-mock listening on //p' "$log")"
status=0
"$st" run "$root/openapi.yaml" --url "$url" \
  --exclude-checks positive_data_acceptance \
  --max-examples "$examples" --seed 1 --workers 1 --request-timeout 5 || status=$?
kill -TERM "$pid"
wait "$pid" || status=1
exit "$status"
