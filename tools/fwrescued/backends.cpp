// The production registry of backends (tools/fwrescued/daemon.hpp): each name the configuration
// may pick is listed here once. Test-only backends are added by the test binaries, never here.

#include "common/log.hpp"
#include "hal/flash/file.hpp"
#include "hal/flash/flashrom.hpp"
#include "hal/host_power/sim.hpp"
#include "tools/fwrescued/daemon.hpp"

namespace fwrescue {
namespace {

caf::expected<std::shared_ptr<flash>> open_file(const node_config& c,
                                                const std::shared_ptr<logger>&) {
  flash_geometry shape;
  shape.erase_size = c.flash.erase_size;
  shape.program_size = c.flash.program_size;
  shape.block_erase_size = c.flash.block_erase_size;
  shape.erase_us = c.flash.erase_us;
  shape.block_erase_us = c.flash.block_erase_us;
  shape.program_us = c.flash.program_us;
  auto f = file_flash::open(c.flash.path, shape);
  if (!f)
    return std::move(f.error());
  return std::shared_ptr<flash>{std::move(*f)};
}

caf::expected<std::shared_ptr<flash>> open_flashrom(const node_config& c,
                                                    const std::shared_ptr<logger>& log) {
  flashrom_options o;
  o.programmer = c.flash.programmer;
  o.chip = c.flash.chip;
  o.erase_size = c.flash.erase_size;
  o.program_size = c.flash.program_size;
  o.log = [log](log_level level, std::string_view line) { log->write(level, "flashrom", line); };
  auto f = flashrom_flash::open(std::move(o));
  if (!f)
    return std::move(f.error());
  return std::shared_ptr<flash>{std::move(*f)};
}

} // namespace

backends standard_backends() {
  backends out;
  out.flash.emplace("file", open_file);
  out.flash.emplace("flashrom", open_flashrom);
  out.host_power.emplace(
    "sim", [](const node_config& c) -> caf::expected<std::shared_ptr<host_power>> {
      auto p = sim_host_power::open(c.state_dir + "/host_power", power_state::on);
      if (!p)
        return std::move(p.error());
      return std::shared_ptr<host_power>{std::move(*p)};
    });
  return out;
}

} // namespace fwrescue
