#include "hal/host_power/sim.hpp"

#include <cerrno>
#include <optional>
#include <string_view>
#include <sys/stat.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace fwrescue {

namespace {

/// What a state file may hold: one word and an optional line end.
constexpr uint64_t max_state_file_bytes = 64;

} // namespace

sim_host_power::sim_host_power(std::string state_file, power_state initial)
  : state_file_(std::move(state_file)), state_(initial) {
  if (!state_file_.empty())
    broken_ = load(initial);
}

caf::expected<std::unique_ptr<sim_host_power>> sim_host_power::open(std::string state_file,
                                                                    power_state initial) {
  auto result = std::make_unique<sim_host_power>(std::move(state_file), initial);
  if (result->broken_)
    return result->broken_;
  return result;
}

caf::expected<power_state> sim_host_power::state() {
  if (broken_)
    return broken_;
  return state_;
}

caf::error sim_host_power::power_on() {
  if (broken_)
    return broken_;
  if (state_ == power_state::reset_held)
    return refuse("power_on", "host is held in reset; release the reset instead");
  return change_to(power_state::on);
}

caf::error sim_host_power::power_off() {
  return change_to(power_state::off);
}

caf::error sim_host_power::hold_reset() {
  if (broken_)
    return broken_;
  if (state_ == power_state::off)
    return refuse("hold_reset", "host is off");
  return change_to(power_state::reset_held);
}

caf::error sim_host_power::release_reset() {
  if (broken_)
    return broken_;
  if (state_ == power_state::off)
    return refuse("release_reset", "host is off");
  return change_to(power_state::on);
}

caf::error sim_host_power::reset() {
  if (broken_)
    return broken_;
  if (state_ != power_state::on)
    return refuse("reset", "host is not running");
  return caf::none;
}

caf::error sim_host_power::load(power_state initial) {
  struct stat st {};
  if (::stat(state_file_.c_str(), &st) != 0 && errno == ENOENT)
    return persist(initial);
  auto bytes = read_file(state_file_, max_state_file_bytes, "host power state file");
  if (!bytes)
    return std::move(bytes.error());
  std::string_view text{reinterpret_cast<const char*>(bytes->data()), bytes->size()};
  // Tolerate the line end an editor or `echo off > file` adds.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  auto parsed = parse_power_state(text);
  if (!parsed)
    return make_error(errc::malformed,
                      fmt::format("host power state file {}: unknown state '{}' (expected off, "
                                  "on or reset_held)",
                                  state_file_, text));
  state_ = *parsed;
  return caf::none;
}

caf::error sim_host_power::change_to(power_state next) {
  if (broken_)
    return broken_;
  if (next == state_)
    return caf::none;
  // The file first: if it cannot be written, memory keeps agreeing with it.
  if (auto err = persist(next))
    return err;
  state_ = next;
  return caf::none;
}

caf::error sim_host_power::persist(power_state s) const {
  if (state_file_.empty())
    return caf::none;
  auto text = fmt::format("{}\n", to_string(s));
  std::span<const uint8_t> bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  return write_file_atomic(state_file_, bytes, 0644, on_existing::replace, "host power state file");
}

caf::error sim_host_power::refuse(const char* call, const char* why) const {
  return make_error(
    errc::invalid_argument,
    fmt::format("host power (sim): {} refused in state {}: {}", call, to_string(state_), why));
}

} // namespace fwrescue
