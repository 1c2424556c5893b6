#include "hal/host_power.hpp"

namespace fwrescue {

const char* to_string(power_state s) {
  switch (s) {
    case power_state::off:
      return "off";
    case power_state::on:
      return "on";
    case power_state::reset_held:
      return "reset_held";
  }
  return "unknown";
}

} // namespace fwrescue
