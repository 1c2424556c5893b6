#pragma once

// The node's firmware targets: the first is described by [flash] and [host_power], the others
// by [[target]] entries. Each gets a context of its own (its flash, store, host power and
// locations) derived from the node's, and its own actors in every per-target role.

#include <memory>
#include <vector>

#include <caf/expected.hpp>
#include <fmt/format.h>

#include "common/error.hpp"

#include "actors/node_context.hpp"
#include "tools/fwrescued/daemon.hpp"

namespace fwrescue {

/// The names a registry knows, for an error about one it does not ("a, b").
template <class Map>
std::string known_names(const Map& registry) {
  std::string out;
  for (const auto& [name, factory] : registry)
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

/// The factory `registry` holds for `name`, or an error naming `key` and the known names.
template <class Map>
caf::expected<typename Map::mapped_type> pick(const Map& registry, const std::string& name,
                                              const node_config& config, const char* key) {
  auto it = registry.find(name);
  if (it == registry.end())
    return make_error(errc::invalid_argument,
                      fmt::format("{}: {} '{}' is unknown (known: {})", config.source, key, name,
                                  known_names(registry)));
  return it->second;
}

/// Opens the image region of the chip `flash` describes, through the backend it names, shared
/// by the actors (serialized); `layout` receives where the region lies.
caf::expected<std::shared_ptr<flash>> open_target_flash(const node_config& config,
                                                        const flash_config& flash,
                                                        const backends& registry,
                                                        const std::shared_ptr<logger>& log,
                                                        flash_layout& layout);

/// The image locations recovery.sources names (all but "peers"), each built afresh: every
/// target's fetch uses its own, since a location serves one call at a time.
caf::expected<std::map<std::string, std::shared_ptr<image_location>>>
open_locations(const node_config& config, const backends& registry,
               const std::shared_ptr<logger>& log);

/// Every target's context, the first being `first` (which it completes with the targets'
/// names); the others copy the node's settings and have their own flash, store, host power
/// ("none", or the node's host shared under one lock) and locations.
caf::expected<std::vector<std::shared_ptr<node_context>>>
build_targets(std::shared_ptr<node_context> first, const backends& registry);

/// After a reload: target `old`'s context with the node's new settings from `first`, keeping
/// what the target was built with (its flash, store, host power, locations).
std::shared_ptr<node_context> reloaded_target(const node_context& first,
                                              const node_context& old);

/// The registry names of every role for `targets` targets (the shared roles once).
std::vector<caf::atom_value> every_role(size_t targets);

} // namespace fwrescue
