// The production registry of backends (tools/fwrescued/daemon.hpp): each name the configuration
// may pick is listed here once. Test-only backends are added by the test binaries, never here.

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/log.hpp"
#include "hal/flash/file.hpp"
#include "hal/flash/flashrom.hpp"
#include "hal/host_power/qemu.hpp"
#include "hal/host_power/sim.hpp"
#include "sources/dir_location.hpp"
#include "sources/http_location.hpp"
#include "transports/ble/ble_transport.hpp"
#include "transports/icmb/icmb_transport.hpp"
#include "transports/lan/lan_transport.hpp"
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

caf::expected<std::shared_ptr<host_power>> open_sim(const node_config& c,
                                                    const std::shared_ptr<logger>&) {
  auto p = sim_host_power::open(c.state_dir + "/host_power", power_state::on);
  if (!p)
    return std::move(p.error());
  return std::shared_ptr<host_power>{std::move(*p)};
}

caf::expected<std::shared_ptr<host_power>> open_qemu(const node_config& c,
                                                     const std::shared_ptr<logger>& log) {
  const auto& h = c.host_power;
  qemu_host_options o;
  o.binary = h.qemu_binary;
  o.machine = h.qemu_machine;
  o.memory_mib = h.qemu_memory_mib;
  o.accel = h.qemu_accel;
  o.extra_args = h.qemu_args;
  o.firmware = h.firmware;
  o.firmware_offset = h.firmware_offset;
  o.firmware_size = h.firmware_size;
  if (o.firmware.empty()) {
    // The host boots the BIOS region of the node's own flash file.
    if (c.flash.backend != "file")
      return make_error(errc::invalid_argument,
                        fmt::format("{}: host_power.firmware is required with flash.backend = "
                                    "\"{}\": the file the emulated host boots from",
                                    c.source, c.flash.backend));
    o.firmware = c.flash.path;
    o.firmware_offset = c.flash.region_offset;
    o.firmware_size = c.flash.region_size;
  }
  o.vars_template = h.vars_template;
  o.state_dir = c.state_dir;
  o.start_timeout = std::chrono::milliseconds{h.start_timeout_ms};
  o.powerdown_timeout = std::chrono::milliseconds{h.powerdown_timeout_ms};
  o.qmp_timeout = std::chrono::milliseconds{h.qmp_timeout_ms};
  o.log = [log](log_level level, std::string_view line) { log->write(level, "host", line); };
  auto p = qemu_host_power::open(std::move(o));
  if (!p)
    return make_error(errc::invalid_argument,
                      fmt::format("{}: [host_power] {}", c.source, describe(p.error())));
  return std::shared_ptr<host_power>{std::move(*p)};
}

caf::expected<std::shared_ptr<transport>> open_lan(const node_config& c,
                                                   const std::shared_ptr<logger>&) {
  lan_options lan;
  lan.group = c.lan.group;
  lan.discovery_port = c.lan.discovery_port;
  lan.interface_address = c.lan.interface_address;
  lan.session_port = c.lan.session_port;
  lan.static_peers = c.lan.static_peers;
  lan.multicast_ttl = c.lan.multicast_ttl;
  lan.node_label = c.id;
  lan.limits = session_limits_of(c.limits);
  return std::shared_ptr<transport>{std::make_shared<lan_transport>(std::move(lan))};
}

caf::expected<std::shared_ptr<transport>> open_ble(const node_config& c,
                                                   const std::shared_ptr<logger>&) {
  ble_options o;
  o.address = c.ble.address;
  o.psm = c.ble.psm;
  o.peers = c.ble.peers;
  o.mtu = static_cast<uint16_t>(c.ble.mtu);
  o.emulation = c.ble.emulation;
  o.emulated_rate_bps = uint64_t{c.ble.emulated_rate_kbps} * 1000;
  o.emulated_credits = static_cast<uint16_t>(c.ble.emulated_credits);
  o.limits = session_limits_of(c.limits);
  o.node_label = c.id;
  return std::shared_ptr<transport>{std::make_shared<ble_transport>(std::move(o))};
}

caf::expected<std::shared_ptr<transport>> open_icmb(const node_config& c,
                                                    const std::shared_ptr<logger>& log) {
  icmb_options o;
  o.device = c.icmb.device;
  o.baud = c.icmb.baud;
  o.address = c.icmb.address;
  if (c.icmb.frame_payload != 0)
    o.max_payload = c.icmb.frame_payload;
  o.limits = session_limits_of(c.limits);
  o.node_label = c.id;
  o.warn = [log](std::string_view line) { log->warn("icmb", "{}", line); };
  return std::shared_ptr<transport>{std::make_shared<icmb_transport>(std::move(o))};
}

caf::expected<std::shared_ptr<image_location>> open_local(const node_config& c,
                                                           const std::shared_ptr<logger>&) {
  return std::shared_ptr<image_location>{
    std::make_shared<dir_location>("local", std::vector<std::string>{c.local.dir}, 0)};
}

caf::expected<std::shared_ptr<image_location>> open_removable(const node_config& c,
                                                               const std::shared_ptr<logger>&) {
  return std::shared_ptr<image_location>{
    std::make_shared<dir_location>("removable", c.removable.watch, 1)};
}

caf::expected<std::shared_ptr<image_location>> open_http(const node_config& c,
                                                          const std::shared_ptr<logger>& log) {
  auto location = make_http_location(c.http);
  if (!location)
    return std::move(location.error());
  // A URL it cannot use still makes a location (the node runs; this source fails with the
  // reason): the operator hears of it now rather than at the first recovery.
  if (auto* http = dynamic_cast<const http_location*>(location->get()))
    if (auto problem = http->configuration_problem(); !problem.empty())
      log->warn("main", "source http will fail: {}", problem);
  return std::shared_ptr<image_location>{std::move(*location)};
}

} // namespace

backends standard_backends() {
  backends out;
  out.flash.emplace("file", open_file);
  out.flash.emplace("flashrom", open_flashrom);
  out.host_power.emplace("sim", open_sim);
  out.host_power.emplace("qemu", open_qemu);
  out.transports.emplace("lan", open_lan);
  out.transports.emplace("icmb", open_icmb);
  out.transports.emplace("ble", open_ble);
  out.locations.emplace("local", open_local);
  out.locations.emplace("removable", open_removable);
  out.locations.emplace("http", open_http);
  return out;
}

} // namespace fwrescue
