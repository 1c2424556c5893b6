#include "tools/fwrescued/reload.hpp"

#include <caf/send.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "policies/policy.hpp"
#include "tools/fwrescued/targets.hpp"
#include "tools/fwrescued/trust.hpp"

namespace fwrescue {

namespace {

/// Settings a reload may not change: they name the node, its hardware, its sockets and its
/// state, which the running parts were built from.
std::string fixed_setting_changed(const node_config& a, const node_config& b) {
  if (a.id != b.id)
    return "node.id";
  if (a.role != b.role)
    return "node.role";
  if (a.key != b.key)
    return "node.key";
  if (a.state_dir != b.state_dir)
    return "node.state_dir";
  if (a.platform != b.platform)
    return "platform";
  // The component names what the flash holds, as the path names where it is.
  if (a.flash.component != b.flash.component || a.flash.backend != b.flash.backend
      || a.flash.path != b.flash.path || a.flash.programmer != b.flash.programmer
      || a.flash.chip != b.flash.chip
      || a.flash.erase_size != b.flash.erase_size || a.flash.program_size != b.flash.program_size
      || a.flash.region_offset != b.flash.region_offset
      || a.flash.region_size != b.flash.region_size
      // The chip is opened with its block erase and timing model; a reload does not reopen it.
      || a.flash.block_erase_size != b.flash.block_erase_size
      || a.flash.erase_us != b.flash.erase_us || a.flash.block_erase_us != b.flash.block_erase_us
      || a.flash.program_us != b.flash.program_us)
    return "flash";
  const auto& ha = a.host_power;
  const auto& hb = b.host_power;
  if (ha.backend != hb.backend || ha.qemu_binary != hb.qemu_binary
      || ha.qemu_machine != hb.qemu_machine || ha.qemu_memory_mib != hb.qemu_memory_mib
      || ha.qemu_accel != hb.qemu_accel       || ha.qemu_args != hb.qemu_args || ha.firmware != hb.firmware
      || ha.firmware_offset != hb.firmware_offset || ha.firmware_size != hb.firmware_size
      || ha.vars_template != hb.vars_template || ha.start_timeout_ms != hb.start_timeout_ms
      || ha.powerdown_timeout_ms != hb.powerdown_timeout_ms
      || ha.qmp_timeout_ms != hb.qmp_timeout_ms)
    return "host_power (backend and its qemu_*, firmware*, vars_template and *_timeout_ms keys)";
  if (a.lan.enabled != b.lan.enabled || a.lan.group != b.lan.group
      || a.lan.discovery_port != b.lan.discovery_port
      || a.lan.interface_address != b.lan.interface_address
      || a.lan.session_port != b.lan.session_port || a.lan.static_peers != b.lan.static_peers
      || a.lan.multicast_ttl != b.lan.multicast_ttl)
    return "lan";
  if (a.icmb.enabled != b.icmb.enabled || a.icmb.device != b.icmb.device
      || a.icmb.baud != b.icmb.baud || a.icmb.address != b.icmb.address
      || a.icmb.frame_payload != b.icmb.frame_payload)
    return "icmb";
  if (a.ble.enabled != b.ble.enabled || a.ble.address != b.ble.address || a.ble.psm != b.ble.psm
      || a.ble.peers != b.ble.peers || a.ble.mtu != b.ble.mtu || a.ble.emulation != b.ble.emulation
      || a.ble.emulated_rate_kbps != b.ble.emulated_rate_kbps
      || a.ble.emulated_credits != b.ble.emulated_credits)
    return "ble";
  if (a.admin_socket() != b.admin_socket())
    return "admin.socket";
  if (a.dbus != b.dbus)
    return "dbus";
  if (a.redfish != b.redfish)
    return "redfish";
  if (a.metrics.listen != b.metrics.listen)
    return "metrics.listen";
  // Each target's actors were built with its flash, store and host power.
  if (a.targets != b.targets)
    return "[[target]]";
  // The locations were built from these.
  if (a.recovery.sources != b.recovery.sources || a.local != b.local
      || a.removable != b.removable || a.http != b.http)
    return "recovery.sources and the [local], [removable] and [http] tables";
  // The transport was built with these; the rest of [limits] applies from the reload on.
  const auto& la = a.limits;
  const auto& lb = b.limits;
  if (la.sessions != lb.sessions || la.sessions_per_source != lb.sessions_per_source
      || la.handshake_ms != lb.handshake_ms || la.idle_ms != lb.idle_ms
      || la.queued_kib != lb.queued_kib || la.inbound_kib != lb.inbound_kib
      || la.descriptor_reserve != lb.descriptor_reserve)
    return "limits (sessions, sessions_per_source, handshake_ms, idle_ms, queued_kib, "
           "inbound_kib, descriptor_reserve)";
  return {};
}

} // namespace

/// Re-reads the configuration. On success every actor gets the new context and the answer
/// says what is in force; on failure the old configuration stays and the answer says why.
caf::expected<std::string> reload(caf::actor_system& sys, const holders& targets,
                                  const std::string& config_path) {
  auto& current = *targets.front();
  auto old = current.get();
  auto config = load_config(config_path);
  if (!config)
    return std::move(config.error());
  if (auto field = fixed_setting_changed(old->config, *config); !field.empty())
    return make_error(errc::invalid_argument,
                      fmt::format("{}: {} cannot change without a restart", config_path, field));
  auto next = std::make_shared<node_context>(*old);
  next->policies = make_policy_registry(config->policy.scored);
  if (!next->policies.count(config->recovery.policy))
    return make_error(errc::invalid_argument,
                      fmt::format("{}: recovery.policy '{}' is unknown (known: {})", config_path,
                                  config->recovery.policy, known_policies(next->policies)));
  if (auto err = load_trust(*config, *next))
    return err;
  if (auto err =
        install_configured_revocations(*config, *next->store, next->revocation_keys, *next->log))
    return err;
  log_level level = log_level::info;
  parse_log_level(config->log_level, level);
  next->log->set_threshold(level);
  next->config = std::move(*config);
  context_ptr ptr = next;
  current.set(ptr);
  for (size_t i = 1; i < targets.size(); ++i)
    targets[i]->set(reloaded_target(*next, *targets[i]->get()));
  for (auto role : every_role(targets.size()))
    if (auto a = find_role(sys, role)) {
      // A per-target role gets its target's context; the shared ones the node's.
      uint32_t index = 0;
      for (uint32_t i = 1; i < targets.size(); ++i)
        for (auto base : {roles::coordinator, roles::discovery, roles::negotiation,
                          roles::transfer, roles::flasher, roles::monitor, roles::boot_watch,
                          roles::fetch})
          if (role_of(base, i) == role)
            index = i;
      caf::anon_send(a, context_update{targets[index]->get()});
    }
  return fmt::format("configuration reloaded from {}: policy {}", config_path,
                     ptr->config.recovery.policy);
}

} // namespace fwrescue
