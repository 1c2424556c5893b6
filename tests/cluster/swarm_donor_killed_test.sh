#!/usr/bin/env bash
# The console is killed while it serves the swarm: the recipients it was serving drop it
# ("connection lost") and finish from the peers, and every recipient recovers and verifies.
# Every node paces its uploads (8000 kbit/s, about 1 s per image) so the console's transfers
# are still running when it dies.
source "$(dirname "$0")/testlib.sh" "$@"
swarm_test_init donor.upload_rate_kbps=8000
swarm_test_start_healthy
check "the console and the healthy peers are ready" test $? = 0
swarm_start "${RECIPIENTS[@]}"
# served_some: the console has uploaded blocks (its metrics), so a transfer is under way.
served_some() { [ "$(swarm_served_bytes console)" -gt 0 ] 2>/dev/null; }
deadline=$((SECONDS + 30))
until served_some || [ $SECONDS -gt $deadline ]; do sleep 0.05; done
check "the console's uploads start" served_some
cluster_kill console KILL
check "all 12 recipients recover without it, and their flash verifies" \
  swarm_wait_recovered 120 "${RECIPIENTS[@]}"
dropped=()
for name in "${RECIPIENTS[@]}"; do
  grep -q "dropping donor console: connection lost" "$TEST_DIR/logs/$name.log" && dropped+=("$name")
done
echo "dropped the killed console mid-transfer: ${dropped[*]:-none}"
check "a recipient was cut off mid-transfer" test ${#dropped[@]} -ge 1
for name in "${dropped[@]}"; do
  check "$name finished from a peer" \
    grep -Eq "coordinator: recovered $name from .*(n[0-9]+|others) in" "$TEST_DIR/logs/$name.log"
done
finish
