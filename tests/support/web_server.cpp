#include "tests/support/web_server.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fwrescue::test {

namespace {

constexpr const char* lighttpd_program = "/usr/sbin/lighttpd";
// Only a guard against a server that never comes up; no test passes or fails by it.
constexpr auto start_deadline = std::chrono::seconds(10);

bool accepts_connections(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string replace_port(std::string text, uint16_t port) {
  for (auto at = text.find("$PORT"); at != std::string::npos; at = text.find("$PORT", at))
    text.replace(at, 5, std::to_string(port));
  return text;
}

} // namespace

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

void run_program(const std::vector<std::string>& argv) {
  if (int rc = wait_exit(spawn(argv)); rc != 0)
    throw std::runtime_error(argv[0] + " " + argv[1] + " failed with status " + std::to_string(rc));
}

lighttpd_server::lighttpd_server(lighttpd_options options) : options_(std::move(options)) {
  // Another process may take the port between the probe and lighttpd's bind.
  for (int tries = 0; tries < 5; ++tries)
    if (start())
      return;
  throw std::runtime_error("lighttpd did not start; see " + options_.work_dir + "/error.log");
}

lighttpd_server::~lighttpd_server() {
  stop();
}

std::string lighttpd_server::url() const {
  return (options_.cert_file.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:")
         + std::to_string(port_);
}

bool lighttpd_server::start() {
  port_ = free_loopback_port();
  auto conf_path = options_.work_dir + "/lighttpd.conf";
  {
    std::ofstream conf{conf_path, std::ios::trunc};
    conf << "server.document-root = \"" << options_.document_root << "\"\n"
         << "server.bind = \"127.0.0.1\"\n"
         << "server.port = " << port_ << "\n"
         << "server.errorlog = \"" << options_.work_dir << "/error.log\"\n"
         << "server.range-requests = \"" << (options_.ranges ? "enable" : "disable") << "\"\n"
         << "index-file.names = ()\n"
         << "mimetype.assign = (\".html\" => \"text/html\", \"\" => "
            "\"application/octet-stream\")\n";
    if (!options_.cert_file.empty()) {
      conf << "server.modules += (\"mod_openssl\")\n"
           << "ssl.engine = \"enable\"\n"
           << "ssl.pemfile = \"" << options_.cert_file << "\"\n"
           << "ssl.privkey = \"" << options_.key_file << "\"\n";
      if (!options_.client_ca_file.empty())
        conf << "ssl.ca-file = \"" << options_.client_ca_file << "\"\n"
             << "ssl.verifyclient.activate = \"enable\"\n"
             << "ssl.verifyclient.enforce = \"enable\"\n";
    }
    conf << replace_port(options_.extra_config, port_) << "\n";
    if (!conf)
      throw std::runtime_error("cannot write " + conf_path);
  }
  // -D: stay in the foreground, so the PID is the server's and the test can end it.
  pid_ = spawn({lighttpd_program, "-D", "-f", conf_path});
  auto deadline = std::chrono::steady_clock::now() + start_deadline;
  while (std::chrono::steady_clock::now() < deadline) {
    if (accepts_connections(port_))
      return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop();
  return false;
}

void lighttpd_server::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  wait_exit(pid_);
  pid_ = -1;
}

test_pki::test_pki(const std::string& dir)
  : ca_file(dir + "/ca.pem"), server_cert(dir + "/server.pem"), server_key(dir + "/server.key"),
    client_cert(dir + "/client.pem"), client_key(dir + "/client.key"),
    other_ca_file(dir + "/other-ca.pem") {
  auto ca_key = dir + "/ca.key";
  auto make_ca = [&](const std::string& cert, const std::string& key, const std::string& name) {
    run_program({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days",
                 "2", "-subj", "/CN=" + name});
  };
  make_ca(ca_file, ca_key, "fwrescue test CA");
  make_ca(other_ca_file, dir + "/other-ca.key", "fwrescue other CA");
  auto make_signed = [&](const std::string& cert, const std::string& key, const std::string& name,
                         const std::string& extensions) {
    auto csr = cert + ".csr";
    auto ext = cert + ".ext";
    std::ofstream{ext} << extensions << "\n";
    run_program({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name});
    run_program({"openssl", "x509", "-req", "-in", csr, "-CA", ca_file, "-CAkey", ca_key,
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext});
  };
  make_signed(server_cert, server_key, "127.0.0.1",
              "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth");
  make_signed(client_cert, client_key, "fwrescue node", "extendedKeyUsage = clientAuth");
}

} // namespace fwrescue::test
