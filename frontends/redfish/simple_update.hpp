#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "frontends/redfish/errors.hpp"

namespace fwrescue::redfish {

/// UpdateService.SimpleUpdate's parameters as fwrescue takes them.
struct simple_update_request {
  /// The image's URL (its manifest is the URL + ".fwm", or the URL itself when it ends in .fwm).
  std::string image_uri;
  /// The firmware target's index (Targets' one entry; the node's first target without one).
  uint32_t target = 0;
};

/// Checks a SimpleUpdate body: a JSON object with ImageURI (a string), TransferProtocol
/// ("HTTP" or "HTTPS", matching the URL's scheme; optional) and Targets (at most one inventory
/// member URI of `targets`; optional), and nothing else. The URL itself is checked when the
/// location is made (sources/http_paths.hpp). The error is the Redfish answer to give.
std::variant<simple_update_request, error_reply>
parse_simple_update(std::string_view body, const std::vector<std::string>& targets);

} // namespace fwrescue::redfish
