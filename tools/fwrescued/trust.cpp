#include "tools/fwrescued/trust.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "image/revocation.hpp"

namespace fwrescue {

namespace {

caf::expected<std::vector<public_key>> load_keys(const std::vector<std::string>& paths,
                                                 const char* what) {
  std::vector<public_key> keys;
  for (const auto& path : paths) {
    auto key = load_public_key(path);
    if (!key)
      return make_error(errc::invalid_argument, fmt::format("{}: {}", what, describe(key.error())));
    keys.push_back(*key);
  }
  return keys;
}

} // namespace

caf::error load_trust(const node_config& config, node_context& ctx) {
  auto trusted = load_keys(config.manifest_keys, "trusted key");
  if (!trusted)
    return std::move(trusted.error());
  auto consoles = load_keys(config.console_keys, "console key");
  if (!consoles)
    return std::move(consoles.error());
  auto revokers = config.revocation_keys.empty()
                    ? caf::expected<std::vector<public_key>>{*trusted}
                    : load_keys(config.revocation_keys, "revocation key");
  if (!revokers)
    return std::move(revokers.error());
  ctx.trusted_keys = std::move(*trusted);
  ctx.console_keys = std::move(*consoles);
  ctx.revocation_keys = std::move(*revokers);
  return caf::none;
}

caf::error install_configured_revocations(const node_config& config, nv_store& store,
                                          std::span<const public_key> keys, logger& log) {
  const auto& path = config.revocation_list;
  if (path.empty())
    return caf::none;
  auto bytes = read_file(path, revocation_limits::max_file_bytes + revocation_file_magic.size(),
                         "revocation list");
  if (!bytes)
    return std::move(bytes.error());
  auto list = decode_revocations_file(*bytes);
  if (!list)
    return make_error(errc::invalid_argument, fmt::format("{}: {}", path, describe(list.error())));
  auto stored = store.revocations();
  if (!stored)
    return std::move(stored.error());
  if (auto err = check_newer_revocations(*stored, *list, keys)) {
    if (has_code(err, errc::stale)) {
      log.info("main", "revocation list {}: {} (kept)", path, describe(err));
      return caf::none;
    }
    return make_error(errc::invalid_argument, fmt::format("{}: {}", path, describe(err)));
  }
  if (auto err = store.set_revocations(*list))
    return err;
  log.warn("main", "revocation list {} installed from {}: {} key(s) and {} image(s) revoked",
           list->fields.serial, path, list->fields.keys.size(), list->fields.roots.size());
  return caf::none;
}

} // namespace fwrescue
