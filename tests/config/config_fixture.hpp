#pragma once

// What the configuration tests share: the smallest valid configuration and the error a text gives.

#include <string>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/node_config.hpp"

namespace fwrescue::test {

/// The required keys only; 11 lines, so appended text starts on line 12.
inline const std::string minimal = R"([node]
id = "bmc-a"
key = "keys/bmc-a.sec"
state_dir = "state/bmc-a"
[platform]
vendor = "QEMU"
board = "q35"
[trust]
manifest_keys = ["keys/release.pub"]
[flash]
path = "flash/bmc-a.fd"
)";

/// The one-line error parsing `text` as "peer.toml" gives.
inline std::string error_of(const std::string& text) {
  auto cfg = parse_config(text, "peer.toml");
  REQUIRE_FALSE(cfg);
  CHECK(has_code(cfg.error(), errc::invalid_argument));
  return describe(cfg.error());
}

} // namespace fwrescue::test
