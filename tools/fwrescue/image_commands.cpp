#include "tools/fwrescue/image_commands.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <sys/stat.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"
#include "image/image_check.hpp"
#include "image/keys.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"
#include "tools/fwrescue/revocation_commands.hpp"

namespace fwrescue::cli {

namespace {

int fail(const char* command, const std::string& what) {
  fmt::print(stderr, "fwrescue {}: {}\n", command, what);
  return exit_error;
}

int fail(const char* command, const caf::error& err) {
  return fail(command, describe(err));
}

/// Parses a whole decimal string into an unsigned integer of type T.
template <class T>
std::optional<T> parse_unsigned(const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return value;
}

std::optional<hash_algorithm> parse_hash(const std::string& name) {
  if (name == "blake2b")
    return hash_algorithm::blake2b_256;
  if (name == "sha256")
    return hash_algorithm::sha256;
  return std::nullopt;
}

/// The creation time: now, or SOURCE_DATE_EPOCH when set, so builds can sign reproducibly.
caf::expected<int64_t> creation_time() {
  if (const char* env = std::getenv("SOURCE_DATE_EPOCH")) {
    auto value = parse_unsigned<uint64_t>(env);
    if (!value || *value > static_cast<uint64_t>(INT64_MAX))
      return make_error(errc::invalid_argument,
                        fmt::format("SOURCE_DATE_EPOCH \"{}\" is not a number of seconds", env));
    return static_cast<int64_t>(*value);
  }
  return static_cast<int64_t>(std::time(nullptr));
}

/// ISO 8601 UTC time, or the raw number when it is outside what a calendar date can show.
std::string format_time(int64_t seconds) {
  constexpr int64_t year_9999_end = 253402300799;
  if (seconds < 0 || seconds > year_9999_end)
    return fmt::format("{} (not a calendar date)", seconds);
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

caf::expected<signed_manifest> load_manifest(const std::string& path) {
  auto bytes =
    read_file(path, manifest_limits::max_file_bytes + manifest_file_magic.size(), "manifest");
  if (!bytes)
    return std::move(bytes.error());
  auto m = decode_manifest_file(*bytes);
  if (!m)
    return make_error(errc::malformed, fmt::format("{}: {}", path, describe(m.error())));
  return m;
}

std::string platform_text(const platform_id& p) {
  return p.vendor + ":" + p.board;
}

} // namespace

void add_keygen(CLI::App& app, keygen_options& opts) {
  auto* cmd = app.add_subcommand("keygen", "Create an Ed25519 signing key pair");
  cmd->add_option("--secret-key", opts.secret_key, "Secret key file to create (mode 0600)")
    ->required();
  cmd->add_option("--public-key", opts.public_key, "Public key file to create")->required();
  cmd->add_flag("--force", opts.force, "Replace key files that already exist");
}

void add_sign(CLI::App& app, sign_options& opts) {
  auto* cmd = app.add_subcommand("sign", "Write a signed manifest for an image");
  cmd->add_option("--secret-key", opts.secret_key, "Secret key file")->required();
  cmd->add_option("--image", opts.image, "Image file to describe")->required();
  cmd->add_option("--platform", opts.platform, "Target platform as VENDOR:BOARD")->required();
  cmd->add_option("--version", opts.version, "Version string of the image")->required();
  cmd->add_option("--svn", opts.svn, "Security version number (0..4294967295)")->required();
  cmd->add_option("--block-size", opts.block_size,
                  "Block size in bytes, a power of two from 512 to 1048576 (default 4096)");
  cmd->add_option("--hash", opts.hash, "Hash algorithm: blake2b (default) or sha256");
  cmd->add_option("--component", opts.component,
                  "Firmware target the image is for: 1 to 32 of a-z 0-9 - (default bios)");
  cmd->add_option("--out", opts.out, "Manifest file to write")->required();
}

void add_verify(CLI::App& app, verify_options& opts) {
  auto* cmd = app.add_subcommand(
    "verify", "Check an image against a signed manifest (exit 0 valid, 1 mismatch, 2 error)");
  cmd->add_option("--public-key", opts.public_keys, "Trusted public key file (repeatable)")
    ->required();
  cmd->add_option("--manifest", opts.manifest, "Manifest file")->required();
  cmd->add_option("--image", opts.image, "Image file")->required();
  cmd->add_option("--revocations", opts.revocations,
                  "Revocation list file, signed by one of the public keys: a revoked image or "
                  "signer fails");
}

void add_inspect(CLI::App& app, inspect_options& opts) {
  auto* cmd = app.add_subcommand("inspect", "Print every field of a manifest file");
  cmd->add_option("FILE", opts.manifest, "Manifest file")->required();
  cmd->add_flag("--json", opts.json, "Print one JSON object");
}

int run_keygen(const keygen_options& opts) {
  constexpr const char* cmd = "keygen";
  if (opts.secret_key == opts.public_key)
    return fail(cmd, "--secret-key and --public-key name the same file");
  auto existing = opts.force ? on_existing::replace : on_existing::refuse;
  if (!opts.force) {
    // Check both before writing either, so a refusal leaves no half-made pair behind.
    for (const auto& path : {opts.secret_key, opts.public_key}) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0)
        return fail(cmd, fmt::format("{} already exists; pass --force to replace it", path));
    }
  }
  auto key = secret_key::generate();
  auto secret_text = key.to_file_text();
  auto public_text = to_file_text(key.public_part());
  auto as_bytes = [](const std::string& s) {
    return std::span{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  };
  auto err =
    write_file_atomic(opts.secret_key, as_bytes(secret_text), 0600, existing, "secret key");
  sodium_memzero(secret_text.data(), secret_text.size());
  if (err)
    return fail(cmd, err);
  if (auto err =
        write_file_atomic(opts.public_key, as_bytes(public_text), 0644, existing, "public key"))
    return fail(cmd, err);
  fmt::print("key {} written: secret {} (mode 0600), public {}\n", to_hex(key.public_part().id()),
             opts.secret_key, opts.public_key);
  return exit_ok;
}

int run_sign(const sign_options& opts) {
  constexpr const char* cmd = "sign";
  manifest fields;
  auto colon = opts.platform.find(':');
  if (colon == std::string::npos)
    return fail(cmd, fmt::format("--platform \"{}\" is not VENDOR:BOARD", opts.platform));
  fields.platform = {opts.platform.substr(0, colon), opts.platform.substr(colon + 1)};
  fields.version = opts.version;
  auto svn = parse_unsigned<uint32_t>(opts.svn);
  if (!svn)
    return fail(cmd, fmt::format("--svn \"{}\" is not a number from 0 to 4294967295", opts.svn));
  fields.svn = *svn;
  auto block_size = parse_unsigned<uint32_t>(opts.block_size);
  if (!block_size)
    return fail(cmd, fmt::format("--block-size \"{}\" is not a number", opts.block_size));
  fields.block_size = *block_size;
  auto hash = parse_hash(opts.hash);
  if (!hash)
    return fail(cmd, fmt::format("--hash \"{}\" is not blake2b or sha256", opts.hash));
  fields.hash = *hash;
  fields.component = opts.component;
  fields.format_version = manifest::format_version_for(fields.component);
  auto created = creation_time();
  if (!created)
    return fail(cmd, created.error());
  fields.created_at = *created;
  // Check the fields before the (possibly long) hashing pass; the size is checked once known.
  fields.image_size = 1;
  if (auto err = validate(fields))
    return fail(cmd, err);
  auto key = load_secret_key(opts.secret_key);
  if (!key)
    return fail(cmd, key.error());
  auto tree = hash_image_file(opts.image, fields.hash, fields.block_size);
  if (!tree)
    return fail(cmd, tree.error());
  fields.image_size = tree->size;
  auto signed_m = sign_manifest(*key, std::move(fields), tree->tree);
  if (!signed_m)
    return fail(cmd, fmt::format("image {}: {}", opts.image, describe(signed_m.error())));
  auto bytes = encode_manifest_file(*signed_m);
  if (auto err = write_file_atomic(opts.out, bytes, 0644, on_existing::replace, "manifest"))
    return fail(cmd, err);
  const auto& m = signed_m->fields;
  fmt::print("signed {} {} {} svn {}: {} bytes in {} blocks of {}, {} root {}, key {} -> {}\n",
             platform_text(m.platform), m.component, m.version, m.svn, m.image_size,
             m.block_count(), m.block_size, to_string(m.hash), to_hex(m.merkle_root),
             to_hex(m.signer_key_id), opts.out);
  return exit_ok;
}

int run_verify(const verify_options& opts) {
  constexpr const char* cmd = "verify";
  std::vector<public_key> keys;
  for (const auto& path : opts.public_keys) {
    auto key = load_public_key(path);
    if (!key)
      return fail(cmd, key.error());
    keys.push_back(*key);
  }
  auto m = load_manifest(opts.manifest);
  if (!m)
    return fail(cmd, m.error());
  std::optional<signed_revocations> revoked;
  if (!opts.revocations.empty()) {
    auto r = load_checked_revocations(opts.revocations, opts.public_keys);
    if (!r)
      return fail(cmd, r.error());
    revoked = std::move(*r);
  }
  auto verdict = verify_image_file(*m, keys, opts.image);
  if (!verdict)
    return fail(cmd, verdict.error());
  if (verdict->result != image_verdict::outcome::ok) {
    fmt::print("FAILED {}\n", verdict->detail);
    return exit_mismatch;
  }
  if (revoked)
    if (auto why = revocation_problem(revoked->fields, *m, *verdict->signer); !why.empty()) {
      fmt::print("FAILED revoked: {}\n", why);
      return exit_mismatch;
    }
  const auto& f = m->fields;
  fmt::print("OK {} {} {} svn {}: {} bytes in {} blocks match root {}, signed by key {}\n",
             platform_text(f.platform), f.component, f.version, f.svn, f.image_size,
             f.block_count(), to_hex(f.merkle_root), to_hex(f.signer_key_id));
  return exit_ok;
}

int run_inspect(const inspect_options& opts) {
  // A revocation list is told apart by its magic.
  if (auto head = read_file(opts.manifest, revocation_limits::max_file_bytes + 8, "file");
      head && head->size() >= revocation_file_magic.size()
      && std::equal(revocation_file_magic.begin(), revocation_file_magic.end(), head->begin()))
    return inspect_revocations(opts.manifest, opts.json);
  auto m = load_manifest(opts.manifest);
  if (!m)
    return fail("inspect", m.error());
  const auto& f = m->fields;
  bool digests_ok = !m->block_digests.empty() && block_digest_tree(*m);
  if (opts.json) {
    nlohmann::ordered_json j;
    j["format_version"] = f.format_version;
    j["platform"] = {{"vendor", f.platform.vendor}, {"board", f.platform.board}};
    j["component"] = f.component;
    j["version"] = f.version;
    j["svn"] = f.svn;
    j["image_size"] = f.image_size;
    j["block_size"] = f.block_size;
    j["block_count"] = f.block_count();
    j["hash"] = to_string(f.hash);
    j["merkle_root"] = to_hex(f.merkle_root);
    j["signer_key_id"] = to_hex(f.signer_key_id);
    j["created_at"] = f.created_at;
    j["created_at_utc"] = format_time(f.created_at);
    j["signature"] = to_hex(m->sig);
    j["block_digests"] = m->block_digests.size();
    j["block_digests_match_root"] = digests_ok;
    fmt::print("{}\n", j.dump());
    return exit_ok;
  }
  auto digests = m->block_digests.empty()
                   ? std::string{"none"}
                   : fmt::format("{} ({})", m->block_digests.size(),
                                 digests_ok ? "they build the Merkle root"
                                            : "they do NOT build the Merkle root");
  fmt::print("manifest        {}\n"
             "format version  {}\n"
             "platform        {} (vendor \"{}\", board \"{}\")\n"
             "component       {}\n"
             "version         {}\n"
             "svn             {}\n"
             "image size      {} bytes ({:#x})\n"
             "block size      {} bytes\n"
             "blocks          {}\n"
             "hash            {}\n"
             "merkle root     {}\n"
             "signer key id   {}\n"
             "created         {} ({})\n"
             "signature       {} (not checked here; use verify)\n"
             "block digests   {}\n",
             opts.manifest, f.format_version, platform_text(f.platform), f.platform.vendor,
             f.platform.board, f.component, f.version, f.svn, f.image_size, f.image_size,
             f.block_size, f.block_count(), to_string(f.hash), to_hex(f.merkle_root),
             to_hex(f.signer_key_id), format_time(f.created_at), f.created_at, to_hex(m->sig),
             digests);
  return exit_ok;
}

} // namespace fwrescue::cli
