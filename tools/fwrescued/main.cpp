// fwrescued: the recovery daemon. main() builds the registry every pluggable backend is chosen
// from by name (flash, host power; tools/fwrescued/backends.cpp) and runs the daemon
// (tools/fwrescued/daemon.cpp), which does the rest: configuration, node context, transports,
// supervised actors, admin socket, signals.

#include "tools/fwrescued/daemon.hpp"

int main(int argc, char** argv) {
  return fwrescue::daemon_main(argc, argv, fwrescue::standard_backends());
}
