#!/usr/bin/env bash
# Runs each fuzz target for a fixed number of iterations, starting from the
# committed seeds. Usage: fuzz/run.sh [SCALE]  (SCALE multiplies the
# iteration counts; default 1). Needs cargo-fuzz; RUSTC_BOOTSTRAP lets the
# stable toolchain take the sanitizer flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"
scale="${1:-1}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
declare -A runs=([codec]=2000000 [scenario]=200000 [request]=50000 [token]=20000)
status=0
for target in codec scenario request token; do
  n=$(( ${runs[$target]} * scale ))
  mkdir -p "corpus/$target"
  started=$(date +%s)
  # The request target keeps one App across runs (its journal and sessions
  # grow by design), which LeakSanitizer would rescan after every input.
  extra=()
  [ "$target" = request ] && extra=(-detect_leaks=0)
  if cargo fuzz run "$target" -O "corpus/$target" "seeds/$target" -- -runs="$n" -print_final_stats=1 "${extra[@]}" >"corpus/$target.log" 2>&1; then
    echo "fuzz $target: $n runs clean in $(( $(date +%s) - started )) s"
  else
    echo "fuzz $target: FAILED after $(( $(date +%s) - started )) s; see fuzz/corpus/$target.log and fuzz/artifacts/$target/"
    tail -30 "corpus/$target.log"
    status=1
  fi
done
exit "$status"
