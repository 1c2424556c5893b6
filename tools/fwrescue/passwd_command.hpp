#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace fwrescue::cli {

struct passwd_options {
  std::string user;
};

void add_passwd(CLI::App& app, passwd_options& opts);

/// Reads a password from the first line of stdin and prints the credentials file line for
/// [redfish] credentials ("user:$argon2id$…").
int run_passwd(const passwd_options& opts);

} // namespace fwrescue::cli
