#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "messages/revocation.hpp"

namespace fwrescue::cli {

struct revoke_options {
  std::string secret_key;
  std::string serial;
  /// Public key files of keys to revoke (release keys or node keys).
  std::vector<std::string> keys;
  /// Manifest files whose images to revoke, and Merkle roots given in hex.
  std::vector<std::string> manifests;
  std::vector<std::string> roots;
  std::string out;
};

void add_revoke(CLI::App& app, revoke_options& opts);

/// Writes a signed revocation list.
int run_revoke(const revoke_options& opts);

/// Prints a revocation list file (fwrescue inspect on a file that starts with FWRREVOK).
int inspect_revocations(const std::string& path, bool json);

/// Reads a revocation list file and checks its signature against `keys`; errors name the file.
caf::expected<signed_revocations> load_checked_revocations(const std::string& path,
                                                           const std::vector<std::string>& keys);

} // namespace fwrescue::cli
