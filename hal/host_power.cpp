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

std::optional<power_state> parse_power_state(std::string_view word) {
  for (auto s : {power_state::off, power_state::on, power_state::reset_held})
    if (word == to_string(s))
      return s;
  return std::nullopt;
}

} // namespace fwrescue
