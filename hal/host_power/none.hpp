#pragma once

#include "hal/host_power.hpp"

namespace fwrescue {

/// The host power of a firmware target that is written without touching the host ([[target]]
/// host_power = "none": a device with power of its own, such as a CPLD or a NIC on auxiliary
/// power). It reads as off, so the flasher neither powers anything down nor brings anything
/// back, and every operation does nothing.
class uncoupled_host_power : public host_power {
public:
  caf::expected<power_state> state() override {
    return power_state::off;
  }
  caf::error power_on() override {
    return {};
  }
  caf::error power_off() override {
    return {};
  }
  caf::error hold_reset() override {
    return {};
  }
  caf::error release_reset() override {
    return {};
  }
  caf::error reset() override {
    return {};
  }
};

} // namespace fwrescue
