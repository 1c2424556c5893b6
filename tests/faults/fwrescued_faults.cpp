// fwrescued-faults: the real daemon (tools/fwrescued/daemon.cpp) with one more flash backend in
// its registry, "power-cut" (tests/faults/power_cut_flash.hpp): the "file" backend's chip,
// wrapped so that the process ends at the cut point FWRESCUE_CUT names, as a power loss would.
// A test binary only: the production registry (tools/fwrescued/backends.cpp) never holds it.
//
//   FWRESCUE_CUT=erase:3 | half-erase:3 | program:17 | half-program:9 | none (or unset: count,
//   never cut)

#include <cstdlib>

#include <fmt/format.h>

#include "common/error.hpp"
#include "tests/faults/power_cut_flash.hpp"
#include "tools/fwrescued/daemon.hpp"

using namespace fwrescue;

int main(int argc, char** argv) {
  auto registry = standard_backends();
  auto file = registry.flash.at("file");
  registry.flash.emplace(
    "power-cut",
    [file](const node_config& c,
           const std::shared_ptr<logger>& log) -> caf::expected<std::shared_ptr<flash>> {
      if (c.flash.path.empty())
        return make_error(
          errc::invalid_argument,
          fmt::format("{}: flash.path is required with backend = \"power-cut\"", c.source));
      const char* env = std::getenv("FWRESCUE_CUT");
      auto cut = faults::parse_cut_point(env ? env : "");
      if (!cut)
        return std::move(cut.error());
      auto chip = file(c, log);
      if (!chip)
        return std::move(chip.error());
      return std::shared_ptr<flash>{std::make_shared<faults::power_cut_flash>(*chip, *cut)};
    });
  return daemon_main(argc, argv, registry);
}
