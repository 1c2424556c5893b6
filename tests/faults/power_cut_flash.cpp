#include "tests/faults/power_cut_flash.hpp"

#include <charconv>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue::faults {

namespace {

/// One line to stderr with a single write(), unbuffered, as the process may end right after.
void say(const std::string& line) {
  auto text = line + "\n";
  auto rc = ::write(STDERR_FILENO, text.data(), text.size());
  (void)rc;
}

} // namespace

caf::expected<cut_point> parse_cut_point(std::string_view text) {
  if (text.empty() || text == "none")
    return cut_point{};
  auto usage = [&] {
    return make_error(errc::invalid_argument,
                      fmt::format("FWRESCUE_CUT '{}': expected erase:K, half-erase:K, "
                                  "program:K, half-program:K (K from 1) or none",
                                  text));
  };
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return usage();
  auto name = text.substr(0, colon);
  auto number = text.substr(colon + 1);
  cut_point cut;
  if (name == "erase")
    cut.at = cut_point::kind::erase;
  else if (name == "half-erase")
    cut.at = cut_point::kind::half_erase;
  else if (name == "program")
    cut.at = cut_point::kind::program;
  else if (name == "half-program")
    cut.at = cut_point::kind::half_program;
  else
    return usage();
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), cut.k);
  if (number.empty() || ec != std::errc{} || end != number.data() + number.size() || cut.k == 0)
    return usage();
  return cut;
}

std::string to_string(const cut_point& cut) {
  switch (cut.at) {
    case cut_point::kind::none:
      return "none";
    case cut_point::kind::erase:
      return fmt::format("erase:{}", cut.k);
    case cut_point::kind::half_erase:
      return fmt::format("half-erase:{}", cut.k);
    case cut_point::kind::program:
      return fmt::format("program:{}", cut.k);
    case cut_point::kind::half_program:
      return fmt::format("half-program:{}", cut.k);
  }
  return "?";
}

power_cut_flash::power_cut_flash(std::shared_ptr<flash> chip, cut_point cut)
  : chip_(std::move(chip)), cut_(cut) {
  say(fmt::format("power-cut: armed, cut point {}", to_string(cut_)));
}

flash_geometry power_cut_flash::geometry() const {
  return chip_->geometry();
}

caf::error power_cut_flash::read(uint64_t offset, std::span<uint8_t> out) {
  return chip_->read(offset, out);
}

caf::error power_cut_flash::erase(uint64_t offset, uint64_t length) {
  auto sector = chip_->geometry().erase_size;
  // A request the chip refuses (misaligned, outside, protected) is passed whole, to fail whole.
  if (offset % sector != 0 || length % sector != 0)
    return chip_->erase(offset, length);
  for (uint64_t at = offset; at < offset + length; at += sector) {
    auto n = erases_ + 1;
    if (cut_.at == cut_point::kind::half_erase && n == cut_.k) {
      if (auto err = half_erase(at, sector))
        return err;
      ++erases_;
      cut(fmt::format("half of erase {} (sector at {:#x}: its first {} bytes)", n, at, sector / 2));
    }
    if (auto err = chip_->erase(at, sector))
      return err;
    ++erases_;
    if (cut_.at == cut_point::kind::erase && n == cut_.k)
      cut(fmt::format("erase {} (sector at {:#x})", n, at));
  }
  return caf::none;
}

caf::error power_cut_flash::half_erase(uint64_t at, uint32_t sector) {
  // The sector's second half as it was, programmed back over a whole erase: the cells end as an
  // erase cut half way leaves them (the process ends before anything else happens).
  std::vector<uint8_t> old(sector / 2);
  if (auto err = chip_->read(at + sector / 2, old))
    return err;
  if (auto err = chip_->erase(at, sector))
    return err;
  return chip_->program_range(at + sector / 2, old);
}

caf::error power_cut_flash::program(uint64_t offset, std::span<const uint8_t> data) {
  auto n = programs_ + 1;
  if (cut_.at == cut_point::kind::half_program && n == cut_.k) {
    auto half = data.first(data.size() / 2);
    if (auto err = chip_->program(offset, half))
      return err;
    ++programs_;
    cut(fmt::format("half of program {} ({} of {} bytes at {:#x})", n, half.size(), data.size(),
                    offset));
  }
  if (auto err = chip_->program(offset, data))
    return err;
  ++programs_;
  if (cut_.at == cut_point::kind::program && n == cut_.k)
    cut(fmt::format("program {} ({} bytes at {:#x})", n, data.size(), offset));
  return caf::none;
}

caf::error power_cut_flash::set_write_protect(bool on) {
  if (auto err = chip_->set_write_protect(on))
    return err;
  if (on && !protected_)
    say(fmt::format("power-cut: write session over: {} erase(s), {} program(s) so far",
                    erases_.load(), programs_.load()));
  protected_ = on;
  return caf::none;
}

void power_cut_flash::cut(const std::string& what) const {
  say("power-cut: cut after " + what);
  ::_exit(power_cut_exit_code);
}

} // namespace fwrescue::faults
