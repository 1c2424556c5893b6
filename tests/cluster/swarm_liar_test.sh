#!/usr/bin/env bash
# A lying node in the swarm: hostile_peer's lying donor (tests/adversarial/hostile_donor.cpp)
# offers the image under a genuine release-signed manifest for svn 2 (so it ranks right after
# the console, above every honest peer's svn 1) and its own node signature, then sends every
# block it is asked for with its first byte flipped. Every recipient it lied to must drop it
# ("block N failed verification") and still recover from the honest nodes; none recovers from it.
source "$(dirname "$0")/testlib.sh" "$@"
swarm_test_init
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$TEST_DIR/images/bios.fd" \
  --platform QEMU:q35 --version 2022.11 --svn 2 --out "$TEST_DIR/images/bios-svn2.fwm" >/dev/null
swarm_test_start_healthy
check "the console and the healthy peers are ready" test $? = 0
adv_hostile liar lying-donor --mode bad-blocks --id liar \
  --manifest "$TEST_DIR/images/bios-svn2.fwm" --image "$TEST_DIR/images/bios.fd" --seconds 120
check "the liar listens" cluster_wait_log liar "sessions at" 10
swarm_start "${RECIPIENTS[@]}"
check "all 12 recipients recover, and their flash verifies" \
  swarm_wait_recovered 90 "${RECIPIENTS[@]}"
# Whom the liar sent bad blocks: the recipient of the last accept it confirmed before each
# "sending them with the first byte of each flipped" (it serves one session at a time).
# ("session from ADDR: confirmed NAME's accept; ...": NAME is the word after "confirmed").
mapfile -t lied_to < <(awk '
  / confirmed .*s accept/ {
    for (i = 1; i < NF; i++)
      if ($i == "confirmed") r = substr($(i + 1), 1, length($(i + 1)) - 2)
  }
  /with the first byte of each flipped/ && r != "" { print r; r = "" }' \
  "$TEST_DIR/logs/liar.log" | sort -u)
echo "the liar sent bad blocks to: ${lied_to[*]:-nobody}"
check "the liar was tried by at least one recipient" test ${#lied_to[@]} -ge 1
for name in "${lied_to[@]}"; do
  check "$name dropped the liar for a block that failed verification" \
    grep -Eq "dropping donor liar: .*block [0-9]+ failed verification" "$TEST_DIR/logs/$name.log"
done
for name in "${RECIPIENTS[@]}"; do
  check "$name did not recover from the liar" \
    log_lacks "$name" "coordinator: recovered $name from liar"
done
finish
