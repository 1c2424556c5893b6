#pragma once

#include <caf/error.hpp>

#include "actors/node_context.hpp"
#include "common/log.hpp"
#include "config/node_config.hpp"
#include "hal/nv_store.hpp"

namespace fwrescue {

/// Loads the keys [trust] names into `ctx`: the release keys that sign manifests, the consoles'
/// node keys, and the keys that sign revocation lists (the release keys unless others are
/// named). Errors name the file.
caf::error load_trust(const node_config& config, node_context& ctx);

/// Installs [trust] revocation_list into the store when it is newer than the list held (a
/// console publishes it to its peers from there). A list that does not check out is an error
/// naming the file; one that is not newer is left alone.
caf::error install_configured_revocations(const node_config& config, nv_store& store,
                                          std::span<const public_key> keys, logger& log);

} // namespace fwrescue
