#include "tools/fwrescue/revocation_commands.hpp"

#include <charconv>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"
#include "image/keys.hpp"
#include "image/revocation.hpp"
#include "tools/fwrescue/image_commands.hpp"

namespace fwrescue::cli {

namespace {

int fail(const std::string& what) {
  fmt::print(stderr, "fwrescue revoke: {}\n", what);
  return exit_error;
}

caf::expected<signed_revocations> read_revocations(const std::string& path) {
  auto bytes = read_file(path, revocation_limits::max_file_bytes + revocation_file_magic.size(),
                         "revocations");
  if (!bytes)
    return std::move(bytes.error());
  auto r = decode_revocations_file(*bytes);
  if (!r)
    return make_error(errc::malformed, fmt::format("{}: {}", path, describe(r.error())));
  return r;
}

caf::expected<digest> root_of(const std::string& text) {
  digest out{};
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != out.size())
    return make_error(errc::invalid_argument,
                      fmt::format("--root \"{}\" is not 64 hex digits (a Merkle root)", text));
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

} // namespace

void add_revoke(CLI::App& app, revoke_options& opts) {
  auto* cmd = app.add_subcommand(
    "revoke", "Write a signed revocation list: keys and images no longer to be trusted");
  cmd->add_option("--secret-key", opts.secret_key, "Secret key file of a revocation key")
    ->required();
  cmd
    ->add_option("--serial", opts.serial,
                 "Serial number, above that of every list published before (1..2^64-1)")
    ->required();
  cmd->add_option("--key", opts.keys, "Public key file of a key to revoke (repeatable)");
  cmd->add_option("--manifest", opts.manifests, "Manifest file of an image to revoke (repeatable)");
  cmd->add_option("--root", opts.roots, "Merkle root (hex) of an image to revoke (repeatable)");
  cmd->add_option("--out", opts.out, "Revocation list file to write")->required();
}

int run_revoke(const revoke_options& opts) {
  revocation_list list;
  auto serial = opts.serial;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(serial.data(), serial.data() + serial.size(), value);
  if (ec != std::errc{} || end != serial.data() + serial.size() || value == 0)
    return fail(
      fmt::format("--serial \"{}\" is not a number from 1 to 18446744073709551615", serial));
  list.serial = value;
  list.created_at = static_cast<int64_t>(std::time(nullptr));
  for (const auto& path : opts.keys) {
    auto key = load_public_key(path);
    if (!key)
      return fail(describe(key.error()));
    list.keys.push_back(key->bytes);
  }
  for (const auto& path : opts.manifests) {
    auto bytes =
      read_file(path, manifest_limits::max_file_bytes + manifest_file_magic.size(), "manifest");
    if (!bytes)
      return fail(describe(bytes.error()));
    auto m = decode_manifest_file(*bytes);
    if (!m)
      return fail(fmt::format("{}: {}", path, describe(m.error())));
    list.roots.push_back(m->fields.merkle_root);
  }
  for (const auto& text : opts.roots) {
    auto root = root_of(text);
    if (!root)
      return fail(describe(root.error()));
    list.roots.push_back(*root);
  }
  auto key = load_secret_key(opts.secret_key);
  if (!key)
    return fail(describe(key.error()));
  auto signed_list = sign_revocations(*key, std::move(list));
  if (!signed_list)
    return fail(describe(signed_list.error()));
  auto bytes = encode_revocations_file(*signed_list);
  if (auto err = write_file_atomic(opts.out, bytes, 0644, on_existing::replace, "revocations"))
    return fail(describe(err));
  const auto& f = signed_list->fields;
  fmt::print("revocation list {}: {} key(s) and {} image(s) revoked, signed by key {} -> {}\n",
             f.serial, f.keys.size(), f.roots.size(), to_hex(f.signer_key_id), opts.out);
  return exit_ok;
}

int inspect_revocations(const std::string& path, bool json) {
  auto r = read_revocations(path);
  if (!r) {
    fmt::print(stderr, "fwrescue inspect: {}\n", describe(r.error()));
    return exit_error;
  }
  const auto& f = r->fields;
  if (json) {
    nlohmann::ordered_json j;
    j["serial"] = f.serial;
    j["created_at"] = f.created_at;
    j["signer_key_id"] = to_hex(f.signer_key_id);
    auto keys = nlohmann::ordered_json::array();
    for (const auto& k : f.keys)
      keys.push_back(to_hex(k));
    auto roots = nlohmann::ordered_json::array();
    for (const auto& root : f.roots)
      roots.push_back(to_hex(root));
    j["revoked_keys"] = keys;
    j["revoked_roots"] = roots;
    fmt::print("{}\n", j.dump());
    return exit_ok;
  }
  fmt::print("revocation list {}\nserial          {}\ncreated         {}\nsigner key id   {} "
             "(signature not checked here)\n",
             path, f.serial, f.created_at, to_hex(f.signer_key_id));
  for (const auto& k : f.keys)
    fmt::print("revoked key     {} (id {})\n", to_hex(k), to_hex(public_key{k}.id()));
  for (const auto& root : f.roots)
    fmt::print("revoked image   {}\n", to_hex(root));
  return exit_ok;
}

caf::expected<signed_revocations> load_checked_revocations(const std::string& path,
                                                           const std::vector<std::string>& keys) {
  auto r = read_revocations(path);
  if (!r)
    return r;
  std::vector<public_key> trusted;
  for (const auto& k : keys) {
    auto key = load_public_key(k);
    if (!key)
      return std::move(key.error());
    trusted.push_back(*key);
  }
  if (auto signer = check_revocations(*r, trusted); !signer)
    return make_error(errc::bad_signature, fmt::format("{}: {}", path, describe(signer.error())));
  return r;
}

} // namespace fwrescue::cli
