#!/usr/bin/env bash
# Runs one fuzzer for a bounded time on a copy of its seeds, so new inputs it finds never land
# in the repository (ctest, label `fuzz`; fuzz/CMakeLists.txt). Fails when the fuzzer finds a
# crash, a leak, a sanitizer report, a timeout or a trap; the input is kept in ARTIFACT_DIR.
#
# Usage: run_fuzzer.sh FUZZER SECONDS ARTIFACT_DIR SEED_DIR... [-- LIBFUZZER_OPTION...]
set -euo pipefail
fuzzer=$1 seconds=$2 artifacts=$3
shift 3
seeds=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  seeds+=("$1")
  shift
done
[ $# -gt 0 ] && shift
corpus=$(mktemp -d "${TMPDIR:-/tmp}/fwrescue-fuzz.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
for dir in "${seeds[@]}"; do
  find "$dir" -maxdepth 1 -type f -exec cp -t "$corpus" {} +
done
mkdir -p "$artifacts"
# -timeout: one input taking this long is a bug (every harness bounds its work per input).
"$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$corpus"
