#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "messages/manifest.hpp"

namespace fwrescue::cli {

/// Exit codes shared by every subcommand.
enum exit_code : int {
  exit_ok = 0,
  /// verify: the signature, size or content does not match.
  exit_mismatch = 1,
  /// status --watch --until-done: a target's last recovery failed.
  exit_recovery_failed = 1,
  /// Usage errors, unreadable or malformed input, failures to write.
  exit_error = 2,
};

struct keygen_options {
  std::string secret_key;
  std::string public_key;
  bool force = false;
};

struct sign_options {
  std::string secret_key;
  std::string image;
  std::string platform;
  std::string version;
  std::string svn;
  std::string block_size = "4096";
  std::string hash = "blake2b";
  std::string component = default_component;
  std::string out;
};

struct verify_options {
  std::vector<std::string> public_keys;
  std::string manifest;
  std::string image;
  /// A revocation list, checked against the public keys: a revoked image or signer fails.
  std::string revocations;
};

struct inspect_options {
  std::string manifest;
  bool json = false;
};

/// Adds the subcommands and points their options at `opts`.
void add_keygen(CLI::App& app, keygen_options& opts);
void add_sign(CLI::App& app, sign_options& opts);
void add_verify(CLI::App& app, verify_options& opts);
void add_inspect(CLI::App& app, inspect_options& opts);

/// Run a parsed subcommand and return its exit code. Each prints one line per outcome.
int run_keygen(const keygen_options& opts);
int run_sign(const sign_options& opts);
int run_verify(const verify_options& opts);
int run_inspect(const inspect_options& opts);

} // namespace fwrescue::cli
