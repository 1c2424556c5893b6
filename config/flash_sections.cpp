#include "config/flash_sections.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace fwrescue::config_detail {

namespace {

bool power_of_two(int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

bool zero_or_power_of_two(int64_t v) {
  return v == 0 || power_of_two(v);
}

/// The chip's block erase and timing model. A preset fills the datasheet figures of a part, and
/// keys given beside it override them. `erase_ok`, `program_ok`: the erase and program sizes
/// were read well (or defaulted), so messages comparing with them talk about values the user
/// wrote.
void read_flash_timing(table_reader& r, flash_config& flash, bool erase_ok, bool program_ok) {
  auto* timing = r.find("timing");
  r.one_of("timing", flash.timing, {"none", "w25q256"});
  if (flash.timing == "w25q256") {
    // The figures are per 4 KiB sector and 256-byte page: for other sizes they would be wrong.
    if (erase_ok && program_ok && (flash.erase_size != 4096 || flash.program_size != 256))
      r.diag().bad_value(*timing, r.name("timing"),
                         fmt::format("\"none\" (\"w25q256\" has 4096-byte sectors and "
                                     "256-byte pages; flash.erase_size is {}, program_size {})",
                                     flash.erase_size, flash.program_size));
    flash.erase_us = 45000;
    flash.block_erase_us = 150000;
    flash.program_us = 700;
  }
  constexpr int64_t max_pow2 = int64_t{1} << 31;
  auto* block = r.integer("block_erase_size", flash.block_erase_size, 0, max_pow2,
                          "0 or a power of two up to 2147483648", zero_or_power_of_two);
  if (block && erase_ok && flash.block_erase_size != 0
      && flash.block_erase_size < flash.erase_size)
    r.diag().bad_value(*block, r.name("block_erase_size"),
                       fmt::format("0 or a multiple of flash.erase_size ({})", flash.erase_size));
  else if (!r.has("block_erase_size") && flash.block_erase_size <= flash.erase_size)
    flash.block_erase_size = 0; // sectors as large as the default block: no block erase
  r.integer("erase_us", flash.erase_us, 0, u32_max);
  r.integer("block_erase_us", flash.block_erase_us, 0, u32_max);
  r.integer("program_us", flash.program_us, 0, u32_max);
}

} // namespace

void read_flash(table_reader r, flash_config& flash) {
  // The name is checked against the backend registry built in main(), which knows the names
  // (a test binary adds its own).
  r.text("component", flash.component, false,
         "a component name of 1 to 32 characters from a-z 0-9 - (\"bios\", \"nic\")",
         valid_component);
  r.text("backend", flash.backend, false, "a non-empty string (a flash backend name)", non_empty);
  r.path("path", flash.path, flash.backend == "file");
  r.text("programmer", flash.programmer, flash.backend == "flashrom",
         "a flashrom programmer string, name[:parameters], of printable ASCII", valid_programmer);
  r.text("chip", flash.chip, false, "a chip name from flashrom's list, of printable ASCII",
         valid_chip_name);
  constexpr int64_t max_pow2 = int64_t{1} << 31;
  auto* erase = r.integer("erase_size", flash.erase_size, 256, max_pow2,
                          "a power of two from 256 to 2147483648", power_of_two);
  auto* program = r.integer("program_size", flash.program_size, 1, max_pow2,
                            "a power of two from 1 to 2147483648", power_of_two);
  // Compare only against an erase size that was read well (or defaulted), or the message
  // would talk about a value the user did not write.
  if (program && (erase || !r.has("erase_size")) && flash.program_size > flash.erase_size)
    r.diag().bad_value(
      *program, r.name("program_size"),
      fmt::format("a power of two no larger than flash.erase_size ({})", flash.erase_size));
  read_flash_timing(r, flash, erase || !r.has("erase_size"), program || !r.has("program_size"));
  // Whole sectors, so that erasing the region never touches a byte outside it.
  auto sectors = [&](const char* key, uint64_t& out) {
    auto* n = r.integer(
      key, out, 0, int64_t{1} << 48,
      fmt::format("a multiple of flash.erase_size ({}) from 0 to 2^48", flash.erase_size));
    if (n && (erase || !r.has("erase_size")) && out % flash.erase_size != 0)
      r.diag().bad_value(*n, r.name(key),
                         fmt::format("a multiple of flash.erase_size ({})", flash.erase_size));
  };
  sectors("region_offset", flash.region_offset);
  sectors("region_size", flash.region_size);
  r.finish();
}


void read_targets(table_reader& top, node_config& cfg) {
  auto* n = top.find("target");
  if (!n)
    return;
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables())
    return top.diag().wrong_type(*n, "target", "an array of tables ([[target]])");
  if (arr->size() + 1 > max_targets)
    return top.diag().bad_value(*n, "target",
                                fmt::format("at most {} [[target]] entries (a node has at most "
                                            "{} targets)",
                                            max_targets - 1, max_targets));
  std::set<std::string> names{cfg.flash.component};
  std::set<std::string> components{cfg.flash.component};
  for (size_t i = 0; i < arr->size(); ++i) {
    table_reader item = top.element("target", i, *arr->get(i)->as_table());
    target_config t;
    item.text("name", t.name, true, "a string of 1 to 32 characters from A-Z a-z 0-9 . _ -",
              valid_id);
    item.one_of("host_power", t.host_power, {"none", "host"});
    item.path("state_dir", t.state_dir, false);
    bool has_flash = item.has("flash");
    if (!has_flash)
      item.find("flash", true);
    read_flash(item.child("flash"), t.flash);
    item.finish();
    if (!t.name.empty() && !names.insert(t.name).second)
      if (auto* v = item.find("name"))
        item.diag().bad_value(*v, item.name("name"),
                              "a name no other target has (the first target is named after "
                              "flash.component)");
    if (has_flash && !components.insert(t.flash.component).second)
      item.diag().at(arr->get(i)->source(),
                     fmt::format("target[{}]: component '{}' is already another target's: each "
                                 "target holds a different component",
                                 i, t.flash.component));
    if (t.state_dir.empty())
      t.state_dir = cfg.state_dir + "/" + t.name;
    cfg.targets.push_back(std::move(t));
  }
}

} // namespace fwrescue::config_detail
