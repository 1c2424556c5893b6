// A stand-in for qemu-system-x86_64 that fails the ways a real one can, for the qemu host
// backend's fault tests. It reads only the options the backend passes (-qmp, -pidfile) and one
// of its own, `-fake MODE`:
//   fail    prints an error as QEMU does for a file it cannot open, and exits 1
//   hang    never returns from its foreground part (a start that does not finish)
//   silent  daemonizes, writes its pid file, listens on the QMP socket and never answers
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

std::string arg_after(int argc, char** argv, const char* option) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], option) == 0)
      return argv[i + 1];
  return {};
}

/// Binds and listens on the QMP socket of "unix:PATH,server=on,wait=off"; the descriptor, or -1.
int listen_on(const std::string& qmp) {
  auto path = qmp.substr(5, qmp.find(',') - 5);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ::unlink(path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(fd, 4) != 0)
    return -1;
  return fd;
}

} // namespace

int main(int argc, char** argv) {
  auto mode = arg_after(argc, argv, "-fake");
  if (mode == "fail") {
    std::fprintf(stderr, "fake-qemu: -blockdev node-name=fwrescue-code: Could not open "
                         "'/nowhere': No such file or directory\n");
    return 1;
  }
  if (mode == "hang")
    for (;;)
      ::pause();
  if (mode != "silent")
    return 2;
  auto pidfile = arg_after(argc, argv, "-pidfile");
  auto qmp = arg_after(argc, argv, "-qmp");
  pid_t child = ::fork();
  if (child < 0)
    return 1;
  if (child > 0)
    return 0;
  ::setsid();
  // As QEMU: the socket exists before the start is over (the foreground's output ends).
  int fd = listen_on(qmp);
  if (fd < 0)
    return 1;
  std::ofstream{pidfile} << ::getpid() << "\n";
  std::freopen("/dev/null", "w", stdout);
  std::freopen("/dev/null", "w", stderr);
  for (;;) {
    int c = ::accept(fd, nullptr, nullptr);
    (void) c; // held open, never answered
  }
}
