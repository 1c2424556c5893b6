#include "tools/fwrescue/passwd_command.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <sodium.h>

#include "common/error.hpp"
#include "frontends/redfish/credentials.hpp"
#include "tools/fwrescue/image_commands.hpp"

namespace fwrescue::cli {

void add_passwd(CLI::App& app, passwd_options& opts) {
  auto* cmd = app.add_subcommand(
    "passwd", "Print a [redfish] credentials line for USER; the password is read from stdin");
  cmd->add_option("user", opts.user, "User name")->required();
}

int run_passwd(const passwd_options& opts) {
  // The first line of stdin, without its line end; one byte more than allowed says "too long".
  std::string password;
  for (int c = std::getchar(); c != EOF && c != '\n'; c = std::getchar()) {
    password.push_back(static_cast<char>(c));
    if (password.size() > redfish::credential_limits::max_password)
      break;
  }
  if (!password.empty() && password.back() == '\r')
    password.pop_back();
  auto line = redfish::password_line(opts.user, password);
  sodium_memzero(password.data(), password.size());
  if (!line) {
    fmt::print(stderr, "fwrescue passwd: {}\n", describe(line.error()));
    return exit_error;
  }
  fmt::print("{}\n", *line);
  return 0;
}

} // namespace fwrescue::cli
