#!/usr/bin/env bash
# Twelve of sixteen nodes lose their whole flash at once: started together with it erased, each
# finds it bad, pulls the image from whichever donor the negotiation gives it (the console, a
# healthy peer, or a peer that recovered before it), flashes and verifies. All twelve must
# recover within 90 s; every byte pulled was served by some node; no daemon's memory passes the
# bound.
source "$(dirname "$0")/testlib.sh" "$@"
swarm_test_init
swarm_test_start_healthy
check "the console and the healthy peers are ready" test $? = 0
swarm_start "${RECIPIENTS[@]}"
check "all 12 recipients recover, and their flash verifies" swarm_wait_recovered 90 "${RECIPIENTS[@]}"
served=0
for name in "${SWARM_NODES[@]}"; do
  bytes=$(swarm_served_bytes "$name")
  served=$((served + ${bytes:-0}))
done
echo "uploaded by all nodes together: $served bytes for 12 recoveries of $SWARM_IMAGE_BYTES"
check "the donors uploaded at least the 12 images pulled" test "$served" -ge $((12 * SWARM_IMAGE_BYTES))
check "and not more than twice that" test "$served" -le $((24 * SWARM_IMAGE_BYTES))
check "the console served" grep -q "donor: serving catalog image" "$TEST_DIR/logs/console.log"
peak=$(swarm_peak_rss_mib "${SWARM_NODES[@]}")
echo "peak RSS of the 16 daemons: at most $peak MiB"
check "no daemon's peak RSS passes $SWARM_RSS_BOUND_MIB MiB" test "$peak" -le "$SWARM_RSS_BOUND_MIB"
finish
