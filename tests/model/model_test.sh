#!/usr/bin/env bash
# Model check of the recovery protocol (docs/model.md): builds SPIN verifiers for
# model/fwrescue.pml and checks
#   - invalid end states (nothing blocks for ever) and the model's own assertions;
#   - the safety properties s1..s3, each in its own run;
#   - the progress properties p1, p2 under weak fairness;
#   - that each property can fail: every mutant (-DBUG_...) puts a known bug back, and SPIN must
#     find a counterexample to the property it breaks, so that no check passes vacuously.
# Prints one line per check with the states stored and the time pan took; exits non-zero if a
# property does not hold, a search is incomplete, or a mutant is not caught.
#
# Usage: model_test.sh [path/to/fwrescue.pml]     (default: the repository's model/fwrescue.pml)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=$(realpath "${1:-$here/../../model/fwrescue.pml}")
for tool in spin gcc; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool is not installed (scripts/install-deps installs it)" >&2
    exit 1
  }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fwrescue-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/fwrescue.pml"
cd "$work"

# pan: a depth bound far above the model's (about 1,100 steps), a hash table of 2^22 slots (it
# chains, so more states than slots only slow it a little), and a memory bound so that a state
# explosion fails the test instead of the machine.
pan_flags=(-m200000 -w22)
cc_flags=(-w -DMEMLIM=6144)

start=$SECONDS

# Each task builds one verifier and runs its checks; tasks run in parallel, one per core, and
# print into their own file (results/NN), shown in order once all are done.
mkdir results
task_no=0

# build DIR BIN OPT CFLAGS: the verifier DIR/BIN, from DIR/pan.c (made by `spin -a` first).
build() {
  local dir=$1 bin=$2 opt=$3 cflags=$4
  if ! (cd "$dir" && gcc "$opt" "${cc_flags[@]}" $cflags -o "$bin" pan.c >"$bin.log" 2>&1); then
    echo "FAIL  cannot compile the verifier $dir/$bin (gcc $opt $cflags):"
    sed 's/^/      /' "$dir/$bin.log"
    return 1
  fi
}

# generate DIR [SPIN_DEFINE...]: DIR/pan.c for the model with those defines.
generate() {
  local dir=$1
  shift
  mkdir -p "$dir"
  if ! (cd "$dir" && spin -a "$@" ../fwrescue.pml >spin.log 2>&1); then
    echo "FAIL  spin -a $* cannot generate a verifier:"
    sed 's/^/      /' "$dir/spin.log"
    return 1
  fi
}

# check LABEL DIR/BIN EXPECT PATTERN PAN_ARGS...: runs the verifier. EXPECT `holds`: a complete
# search without errors. EXPECT `violated`: a counterexample whose report matches PATTERN.
check() {
  local label=$1 pan=$2 expect=$3 pattern=$4
  shift 4
  local dir=${pan%/*} out
  out=$work/$dir/$label.out
  out=${out// /_}
  (cd "$dir" && "./${pan##*/}" "${pan_flags[@]}" "$@") >"$out" 2>&1 || true
  local states seconds errors incomplete=""
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | head -1)
  seconds=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds.*/\1/p' "$out" | head -1)
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -1)
  states=$(printf '%.0f' "${states:-0}")
  if grep -qE 'max search depth too small|reached -DMEMLIM|out of memory' "$out"; then
    incomplete=yes
  fi
  local verdict=FAIL
  if [ "$expect" = holds ]; then
    [ "${errors:-x}" = 0 ] && [ -z "$incomplete" ] && verdict=ok
  else
    [ "${errors:-0}" -ge 1 ] && grep -qE "$pattern" "$out" && verdict=ok
  fi
  printf '%-4s  %-58s %-8s %9s states %6s s\n' "$verdict" "$label" "$expect" "$states" \
    "${seconds:-?}"
  if [ "$verdict" != ok ]; then
    echo "      ($dir: ./${pan##*/} ${pan_flags[*]} $*; expected: $expect)"
    grep -vE '^\s*$' "$out" | head -40 | sed 's/^/      /'
  fi
}

# task FUNCTION ARGS...: runs it in the background (at most one per core), output to results/.
task() {
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  task_no=$((task_no + 1))
  "$@" >"results/$(printf '%02d' "$task_no")" 2>&1 &
}

claim_violated='assertion violated +!\( *!'  # how pan reports a safety claim's violation
cycle='acceptance cycle'
end_state='invalid end state'
s1=s1_only_verified_blocks_written
s2=s2_running_host_untouched
s3=s3_host_restored_after_success
p1=p1_recovery_ends
p2=p2_recovery_succeeds

# Phase 1 builds every verifier, phase 2 runs every check; both in parallel.
mutants=(
  # define                    kind      claim it must violate
  "BUG_STAGE_UNCHECKED         safety    $s1"
  "BUG_TRUST_STAGING           safety    $s1"
  "BUG_QUIET_RUNNING           safety    $s2"
  "BUG_OVERWRITE_HOST_RECORD   safety    $s3"
  "BUG_CLEAR_BEFORE_RESTORE    safety    $s3"
  "BUG_NO_DEADLINE             end       -"
  "BUG_RETRY_FOREVER           progress  $p1"
  "BUG_NO_NEXT_DONOR           progress  $p2"
  # not a bug but p2's assumption: with no honest donor, a recovery may end failed
  "NO_HONEST                   progress  $p2"
)
flags_for() {
  case $1 in
    safety) echo "-DSAFETY" ;;
    progress) echo "-DNFAIR=3" ;;
    end) echo "-DSAFETY -DNOCLAIM" ;;
  esac
}

if generate model >results/00; then
  task build model noclaim -O2 "$(flags_for end)"
  task build model safety -O2 "$(flags_for safety)"
  task build model progress -O2 "$(flags_for progress)"
fi
for m in "${mutants[@]}"; do
  read -r define kind claim <<<"$m"
  dir=mutant_$define
  task eval "generate $dir -D$define && build $dir pan -O0 '$(flags_for "$kind")'"
done
wait

# the longest first
[ -x model/progress ] && task check "$p2 (weak fairness)" model/progress holds "" -a -f -N $p2
[ -x model/progress ] && task check "$p1 (weak fairness)" model/progress holds "" -a -f -N $p1
[ -x model/noclaim ] && task check "end states and assertions (no claim)" model/noclaim holds ""
for claim in $s1 $s2 $s3; do
  [ -x model/safety ] && task check "$claim" model/safety holds "" -N "$claim"
done
for m in "${mutants[@]}"; do
  read -r define kind claim <<<"$m"
  pan=mutant_$define/pan
  [ -x "$pan" ] || continue
  case $kind in
    safety) task check "$define -> $claim" "$pan" violated "$claim_violated" -N "$claim" ;;
    progress) task check "$define -> $claim" "$pan" violated "$cycle" -a -f -N "$claim" ;;
    end) task check "$define -> invalid end state" "$pan" violated "$end_state" ;;
  esac
done
wait

echo "== model/fwrescue.pml: the properties, then the mutants (each must be caught)"
cat results/*
passed=$(cat results/* | grep -c '^ok ' || true)
failed=$(cat results/* | grep -c '^FAIL ' || true)
expected=$((6 + ${#mutants[@]}))
if [ "$passed" != "$expected" ] && [ "$failed" = 0 ]; then
  echo "FAIL  $passed checks passed, $expected expected"
  failed=1
fi
echo "== model check: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" = 0 ]
