# Shared by the cluster tests: the integration tests' checks (tests/integration/testlib.sh, or
# tests/adversarial/adversary.sh when a hostile peer is given as a third argument) and the swarm
# harness, with the swarm every test starts from: 16 nodes on a 1 MiB random image, a console
# and three peers holding it (HEALTHY), twelve peers whose flash is all erased (RECIPIENTS).
# Usage in a test: source "$(dirname "$0")/testlib.sh" "$@"   (fwrescue fwrescued [hostile_peer])
here=$(dirname "${BASH_SOURCE[0]}")
if [ $# -ge 3 ]; then
  source "$here/../adversarial/adversary.sh" "$@"
else
  source "$here/../integration/testlib.sh" "$@"
fi
source "$here/swarm.sh"

SWARM_IMAGE_BYTES=$((1 << 20))
# Peak RSS a daemon of the test swarm may reach; sanitizer builds set more.
SWARM_RSS_BOUND_MIB=${SWARM_RSS_BOUND_MIB:-64}
HEALTHY=(console n01 n02 n03)
RECIPIENTS=()
for ((i = 4; i < 16; i++)); do RECIPIENTS+=("$(swarm_name "$i")"); done

# swarm_test_init [section.key=value ...]: the swarm's configs, the recipients' flash erased.
swarm_test_init() {
  swarm_random_image "$TEST_DIR/image.bin" "$SWARM_IMAGE_BYTES"
  CLUSTER_FIRMWARE=$TEST_DIR/image.bin swarm_init "$TEST_DIR" 16 "$@"
  swarm_corrupt_all 0 "$SWARM_IMAGE_BYTES" "${RECIPIENTS[@]}"
}

# swarm_test_start_healthy: starts the console and the healthy peers, and waits until each offers.
swarm_test_start_healthy() {
  swarm_start "${HEALTHY[@]}"
  swarm_wait_ready "${HEALTHY[@]}" || return 1
  local name
  for name in "${HEALTHY[@]:1}"; do cluster_wait_log "$name" "monitor: flash matches" 30 || return 1; done
}

# log_lacks NAME REGEX: NAME's log has no line matching REGEX.
log_lacks() { ! grep -Eq -- "$2" "$CLUSTER_DIR/logs/$1.log"; }
