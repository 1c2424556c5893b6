#include "tools/fwrescued/targets.hpp"

#include <fmt/format.h>

#include "hal/flash/region.hpp"
#include "hal/flash/serialized.hpp"
#include "hal/host_power/none.hpp"

namespace fwrescue {

caf::expected<std::shared_ptr<flash>> open_target_flash(const node_config& config,
                                                        const flash_config& flash,
                                                        const backends& registry,
                                                        const std::shared_ptr<logger>& log,
                                                        flash_layout& layout) {
  auto make = pick(registry.flash, flash.backend, config, "flash.backend");
  if (!make)
    return std::move(make.error());
  // The backends read the chip's settings from [flash]: a target's are put there.
  auto seen = config;
  seen.flash = flash;
  auto chip = (*make)(seen, log);
  if (!chip)
    return std::move(chip.error());
  layout = {(*chip)->geometry().size, flash.region_offset};
  auto region = region_flash::open(*chip, flash.region_offset, flash.region_size);
  if (!region)
    return make_error(errc::invalid_argument,
                      fmt::format("{}: [flash] of {}: {}", config.source, flash.component,
                                  describe(region.error())));
  // The monitor, the donor and the flasher each use the chip from their own thread.
  return std::shared_ptr<fwrescue::flash>{
    std::make_shared<serialized_flash>(std::shared_ptr<fwrescue::flash>{std::move(*region)})};
}

caf::expected<std::map<std::string, std::shared_ptr<image_location>>>
open_locations(const node_config& config, const backends& registry,
               const std::shared_ptr<logger>& log) {
  std::map<std::string, std::shared_ptr<image_location>> out;
  for (const auto& name : config.recovery.sources) {
    if (name == "peers")
      continue;
    auto make = registry.locations.find(name);
    if (make == registry.locations.end())
      return make_error(errc::invalid_argument,
                        fmt::format("{}: recovery.sources names '{}', but this build has no such "
                                    "source (known: peers, {})",
                                    config.source, name, known_names(registry.locations)));
    auto location = make->second(config, log);
    if (!location)
      return std::move(location.error());
    out.emplace(name, std::move(*location));
  }
  return out;
}

caf::expected<std::vector<std::shared_ptr<node_context>>>
build_targets(std::shared_ptr<node_context> first, const backends& registry) {
  const auto& config = first->config;
  std::vector<std::shared_ptr<node_context>> out{first};
  std::vector<std::string> names{config.flash.component};
  first->target = config.flash.component;
  std::shared_ptr<std::mutex> host_lock;
  for (const auto& t : config.targets)
    if (t.host_power == "host")
      host_lock = std::make_shared<std::mutex>();
  first->host_lock = host_lock;
  for (size_t i = 0; i < config.targets.size(); ++i) {
    const auto& t = config.targets[i];
    auto ctx = std::make_shared<node_context>(*first);
    ctx->target = t.name;
    ctx->target_index = static_cast<uint32_t>(i + 1);
    ctx->config.flash = t.flash;
    ctx->config.state_dir = t.state_dir;
    // The host's boots are the first target's business: its console shows the BIOS starting.
    ctx->config.boot = boot_config{};
    // Golden copies are the first target's; another component's would mix with them.
    ctx->config.local.keep_golden = false;
    auto chip = open_target_flash(config, t.flash, registry, first->log, ctx->layout);
    if (!chip)
      return std::move(chip.error());
    ctx->chip = std::move(*chip);
    ctx->store = std::make_shared<nv_store>(t.state_dir);
    if (auto err = ctx->store->open())
      return make_error(errc::invalid_argument,
                        fmt::format("{}: target {}: {}", config.source, t.name, describe(err)));
    if (t.host_power == "none") {
      ctx->power = std::make_shared<uncoupled_host_power>();
      ctx->power_report = nullptr;
      ctx->config.host_power.during_flash = "off";
      ctx->config.host_power.after_flash = "restore";
      ctx->host_lock = nullptr;
    }
    auto locations = open_locations(config, registry, first->log);
    if (!locations)
      return std::move(locations.error());
    ctx->locations = std::move(*locations);
    names.push_back(t.name);
    out.push_back(std::move(ctx));
  }
  for (auto& ctx : out)
    ctx->target_names = names;
  return out;
}

std::shared_ptr<node_context> reloaded_target(const node_context& first, const node_context& old) {
  auto ctx = std::make_shared<node_context>(first);
  ctx->target = old.target;
  ctx->target_index = old.target_index;
  ctx->config.flash = old.config.flash;
  ctx->config.state_dir = old.config.state_dir;
  ctx->config.boot = old.config.boot;
  ctx->config.local.keep_golden = old.config.local.keep_golden;
  ctx->config.host_power.during_flash = old.config.host_power.during_flash;
  ctx->config.host_power.after_flash = old.config.host_power.after_flash;
  ctx->chip = old.chip;
  ctx->layout = old.layout;
  ctx->store = old.store;
  ctx->power = old.power;
  ctx->power_report = old.power_report;
  ctx->host_lock = old.host_lock;
  ctx->locations = old.locations;
  return ctx;
}

std::vector<caf::atom_value> every_role(size_t targets) {
  std::vector<caf::atom_value> out{roles::router, roles::donor, roles::media_watcher, roles::fleet};
  for (uint32_t i = 0; i < targets; ++i)
    for (auto role : {roles::coordinator, roles::discovery, roles::negotiation, roles::transfer,
                      roles::flasher, roles::monitor, roles::boot_watch, roles::fetch})
      out.push_back(role_of(role, i));
  return out;
}

} // namespace fwrescue
