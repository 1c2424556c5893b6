#!/usr/bin/env bash
# D-Bus: a peer with a corrupted flash publishes its BIOS target as OpenBMC's software managers
# do, on a private bus daemon this test starts. Read with busctl and dbus-send: the object and
# its interfaces, Version, Purpose, Activation (Invalid: damaged, auto_recover off) and
# Progress. Bad writes (a wrong type, a string that names no value, a read-only property) get
# D-Bus errors and start nothing; setting RequestedActivation to Active starts the recovery, and
# the signals show Activating, then Active at 100 percent. A node whose bus is missing, or
# whose name is taken, runs without D-Bus; the shipped policy lets only root write.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
policy=$(cd "$(dirname "$0")/../../config/dbus" && pwd)/xyz.openbmc_project.Software.FwRescue.conf
name=xyz.openbmc_project.Software.FwRescue
path=/xyz/openbmc_project/software/bios
activation=xyz.openbmc_project.Software.Activation
bus=unix:path=$TEST_DIR/bus/socket
mkdir -p "$TEST_DIR/bus"

# A bus daemon of the test's own that lets every client do everything; its PID goes with the
# daemons', so cluster_stop ends it.
cat >"$TEST_DIR/bus/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>$bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$TEST_DIR/bus/bus.conf" --nofork --print-address=1 \
  >"$TEST_DIR/bus/address" 2>"$TEST_DIR/logs/dbus-daemon.log" &
echo "dbus-daemon $!" >>"$CLUSTER_DIR/pids"
for _ in $(seq 50); do [ -s "$TEST_DIR/bus/address" ] && break; sleep 0.1; done
check "the private bus is up" test -S "$TEST_DIR/bus/socket"

bctl() { busctl --address="$bus" "$@"; }
# send METHOD ARGS...: a call with dbus-send, which prints the error's name when there is one.
send() { dbus-send --bus="$bus" --print-reply --dest=$name "$@" 2>&1; }
prop() { bctl get-property $name $path "$1" "$2"; }
wait_prop() {
  local deadline=$((SECONDS + $4))
  while [ "$SECONDS" -le "$deadline" ]; do
    [ "$(prop "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
    sleep 0.1
  done
  return 1
}
recoveries() { grep -c "state idle -> discovering" "$TEST_DIR/logs/bmc-b.log"; }

cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer monitor.auto_recover=false dbus.enabled=true "dbus.bus=\"$bus\""
cluster_corrupt bmc-b 0x100000 65536
cluster_start console
cluster_wait_ready console
cluster_start bmc-b
check "bmc-b is ready" cluster_wait_ready bmc-b
check "bmc-b says where its objects are" cluster_wait_log bmc-b "D-Bus objects under /xyz/openbmc_project/software as $name" 10

check "the name is on the bus" sh -c "busctl --address='$bus' list | grep -q '^$name '"
check "the object implements Version, Activation and ActivationProgress" sh -c "
  busctl --address='$bus' introspect $name $path >'$TEST_DIR/introspect' &&
  grep -q '^xyz.openbmc_project.Software.Version ' '$TEST_DIR/introspect' &&
  grep -q '^$activation ' '$TEST_DIR/introspect' &&
  grep -q '^xyz.openbmc_project.Software.ActivationProgress ' '$TEST_DIR/introspect'"
check "Progress is a byte, RequestedActivation writable" sh -c "
  grep -Eq '^\.Progress +property +y ' '$TEST_DIR/introspect' &&
  grep -Eq '^\.RequestedActivation +property +s .*writable' '$TEST_DIR/introspect'"
check "the ObjectManager lists the object" sh -c "
  busctl --address='$bus' call $name /xyz/openbmc_project/software \
    org.freedesktop.DBus.ObjectManager GetManagedObjects | grep -q '$path'"
check "Version is the installed manifest's" test "$(prop xyz.openbmc_project.Software.Version Version)" = 's "2022.11"'
check "Purpose: the BIOS is the host's" test "$(prop xyz.openbmc_project.Software.Version Purpose)" = \
  's "xyz.openbmc_project.Software.Version.VersionPurpose.Host"'
check "a damaged flash with no recovery is Invalid" wait_prop $activation Activation \
  "s \"$activation.Activations.Invalid\"" 10
check "Progress starts at 0" test "$(prop xyz.openbmc_project.Software.ActivationProgress Progress)" = "y 0"
check "nothing requested yet" test "$(prop $activation RequestedActivation)" = \
  "s \"$activation.RequestedActivations.None\""

# Bad writes: each gets its D-Bus error, the daemon keeps answering, and nothing starts.
before=$(recoveries)
out=$(send $path org.freedesktop.DBus.Properties.Set string:$activation \
  string:RequestedActivation variant:uint32:1)
check "a wrong type is InvalidArgs" grep -q "^Error org.freedesktop.DBus.Error.InvalidArgs" <<<"$out"
check "busctl's wrong type fails too" sh -c "! busctl --address='$bus' set-property $name $path $activation RequestedActivation u 1"
out=$(send $path org.freedesktop.DBus.Properties.Set string:$activation \
  string:RequestedActivation variant:string:Active)
check "a string naming no value is sdbusplus's InvalidEnumString" \
  grep -q "^Error xyz.openbmc_project.sdbusplus.Error.InvalidEnumString: 'Active' is not" <<<"$out"
out=$(send $path org.freedesktop.DBus.Properties.Set string:xyz.openbmc_project.Software.ActivationProgress \
  string:Progress variant:byte:100)
check "Progress is read-only" grep -q "^Error org.freedesktop.DBus.Error.PropertyReadOnly" <<<"$out"
out=$(send $path org.freedesktop.DBus.Properties.Set string:$activation string:Activation \
  variant:string:$activation.Activations.Active)
check "Activation is read-only" grep -q "^Error org.freedesktop.DBus.Error.PropertyReadOnly" <<<"$out"
check "None is taken and does nothing" bctl set-property $name $path $activation RequestedActivation s \
  "$activation.RequestedActivations.None"
sleep 1
check "the daemon still answers" test "$(prop xyz.openbmc_project.Software.Version Version)" = 's "2022.11"'
check "no recovery was started" test "$(recoveries)" = "$before"
check "status shows no recovery" status_has bmc-b '"state":"idle"'
check "still Invalid" test "$(prop $activation Activation)" = "s \"$activation.Activations.Invalid\""

# The recovery, asked for over D-Bus; the signals are recorded from before the request.
dbus-monitor --address "$bus" "type='signal',interface='org.freedesktop.DBus.Properties',path='$path'" \
  >"$TEST_DIR/signals" 2>&1 &
echo "dbus-monitor $!" >>"$CLUSTER_DIR/pids"
sleep 0.5
check "RequestedActivation Active is taken" bctl set-property $name $path $activation RequestedActivation s \
  "$activation.RequestedActivations.Active"
check "it reads back as Active" test "$(prop $activation RequestedActivation)" = \
  "s \"$activation.RequestedActivations.Active\""
check "bmc-b recovers from the console" cluster_wait_log bmc-b "recovered bmc-b from console in [0-9]+ ms" 60
check "bmc-b's flash verifies" cluster_verify bmc-b
check "Activation ends Active" wait_prop $activation Activation "s \"$activation.Activations.Active\"" 10
check "Progress ends at 100" wait_prop xyz.openbmc_project.Software.ActivationProgress Progress "y 100" 10
sleep 0.5
line_of() { grep -n -m1 -- "$1" "$TEST_DIR/signals" | cut -d: -f1; }
activating=$(line_of "Activations.Activating")
active=$(line_of "Activation.Activations.Active\"")
check "a PropertiesChanged said Activating" test -n "$activating"
check "and then Active" test -n "$active" -a "${active:-0}" -gt "${activating:-0}"
check "Progress 100 was signalled" grep -q "byte 100" "$TEST_DIR/signals"
check "one recovery, by the request" test "$(recoveries)" = "$((before + 1))"
check "the request is logged with its sender" grep -Eq "RequestedActivation of bios set to Active by :1\.[0-9]+ -> recovery started" \
  "$TEST_DIR/logs/bmc-b.log"

# A node whose bus is not there runs all the same, without D-Bus.
cluster_node bmc-x peer dbus.enabled=true "dbus.bus=\"unix:path=$TEST_DIR/bus/none\""
cluster_start bmc-x
check "a missing bus is logged" cluster_wait_log bmc-x "dbus: cannot connect to the bus .*; running without D-Bus objects" 10
check "and the node runs on" cluster_wait_ready bmc-x
# Nor does a second daemon whose name is taken; the first keeps its objects.
cluster_node bmc-y peer dbus.enabled=true "dbus.bus=\"$bus\""
cluster_start bmc-y
check "a taken name is logged" cluster_wait_log bmc-y "dbus: cannot own the name $name .*; running without D-Bus objects" 10
check "and that node runs on" cluster_wait_ready bmc-y
check "the first daemon still answers" test "$(prop $activation Activation)" = "s \"$activation.Activations.Active\""

# The shipped system-bus policy, on a bus that denies what the system bus denies: root's daemon
# owns the name, anyone reads, only root writes. An abstract socket, so that user nobody can
# connect without reaching into the test's directory.
policy_bus=unix:abstract=fwrescue-dbus-test-$$
cat >"$TEST_DIR/bus/policy.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$policy_bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  </policy>
  <include>$policy</include>
</busconfig>
CONF
dbus-daemon --config-file="$TEST_DIR/bus/policy.conf" --nofork --print-address=1 \
  >"$TEST_DIR/bus/policy-address" 2>>"$TEST_DIR/logs/dbus-daemon.log" &
echo "policy-bus $!" >>"$CLUSTER_DIR/pids"
for _ in $(seq 50); do [ -s "$TEST_DIR/bus/policy-address" ] && break; sleep 0.1; done
check "dbus-daemon takes the shipped policy" grep -q "fwrescue-dbus-test" "$TEST_DIR/bus/policy-address"
cluster_node bmc-p peer dbus.enabled=true "dbus.bus=\"$policy_bus\""
cluster_start bmc-p
check "root owns the name under the policy" cluster_wait_log bmc-p "D-Bus objects under .* as $name" 10
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@" 2>&1; }
out=$(as_nobody dbus-send --bus="$policy_bus" --print-reply --dest=$name $path \
  org.freedesktop.DBus.Properties.Get string:xyz.openbmc_project.Software.Version string:Version)
check "anyone reads" grep -q '"2022.11"' <<<"$out"
out=$(as_nobody dbus-send --bus="$policy_bus" --print-reply --dest=$name $path \
  org.freedesktop.DBus.Properties.Set string:$activation string:RequestedActivation \
  variant:string:$activation.RequestedActivations.Active)
check "only root writes" grep -q "^Error org.freedesktop.DBus.Error.AccessDenied" <<<"$out"
check "root does" dbus-send --bus="$policy_bus" --print-reply --dest=$name $path \
  org.freedesktop.DBus.Properties.Set string:$activation string:RequestedActivation \
  variant:string:$activation.RequestedActivations.None
finish
