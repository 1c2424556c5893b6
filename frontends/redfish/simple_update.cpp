#include "frontends/redfish/simple_update.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "frontends/redfish/resources.hpp"

namespace fwrescue::redfish {

namespace {

constexpr std::string_view action = "UpdateService.SimpleUpdate";

/// A client's value quoted in a message: at most 120 characters of its JSON text.
std::string shown(const nlohmann::json& v) {
  auto text = v.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return text.size() > 120 ? text.substr(0, 120) + "..." : text;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size()
         && std::equal(prefix.begin(), prefix.end(), s.begin(),
                       [](char a, char b) { return a == (b | 0x20); });
}

} // namespace

std::variant<simple_update_request, error_reply>
parse_simple_update(std::string_view body, const std::vector<std::string>& targets) {
  // nlohmann's parser nests as deep as the text does; the body's size bounds it (max_body_kib).
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    return malformed_json("the request body is not JSON");
  if (!j.is_object())
    return malformed_json("the request body is not a JSON object");
  for (const auto& [key, value] : j.items())
    if (key != "ImageURI" && key != "TransferProtocol" && key != "Targets")
      return action_parameter_not_supported(
        key.size() > 64 ? key.substr(0, 64) + "..." : key, action,
        fmt::format("SimpleUpdate takes ImageURI, TransferProtocol and Targets only"));
  simple_update_request req;
  auto uri = j.find("ImageURI");
  if (uri == j.end())
    return action_parameter_missing(action, "ImageURI");
  if (!uri->is_string())
    return action_parameter_value_format_error(shown(*uri), "ImageURI", action,
                                               "ImageURI must be a string (an http(s) URL)");
  req.image_uri = uri->get<std::string>();
  if (auto proto = j.find("TransferProtocol"); proto != j.end()) {
    bool known = proto->is_string() && (*proto == "HTTP" || *proto == "HTTPS");
    if (!known)
      return action_parameter_value_format_error(shown(*proto), "TransferProtocol", action,
                                                 "TransferProtocol must be HTTP or HTTPS");
    auto scheme = proto->get<std::string>() == "HTTP" ? "http://" : "https://";
    if (!starts_with_ci(req.image_uri, scheme))
      return action_parameter_value_format_error(
        shown(*proto), "TransferProtocol", action,
        fmt::format("TransferProtocol {} does not match ImageURI's scheme",
                    proto->get<std::string>()));
  }
  if (auto list = j.find("Targets"); list != j.end()) {
    if (!list->is_array())
      return action_parameter_value_format_error(shown(*list), "Targets", action,
                                                 "Targets must be an array of URIs");
    if (list->size() > 1)
      return action_parameter_value_format_error(shown(*list), "Targets", action,
                                                 "one target at a time");
    if (list->size() == 1) {
      const auto& t = (*list)[0];
      auto prefix = std::string{uris::inventory} + "/";
      std::string name;
      if (t.is_string() && t.get<std::string>().starts_with(prefix))
        name = t.get<std::string>().substr(prefix.size());
      auto it = std::find(targets.begin(), targets.end(), name);
      if (it == targets.end())
        return action_parameter_value_format_error(
          shown(t), "Targets", action,
          fmt::format("Targets must name a member of {} (this node has: {})", uris::inventory,
                      fmt::join(targets, ", ")));
      req.target = static_cast<uint32_t>(it - targets.begin());
    }
  }
  return req;
}

} // namespace fwrescue::redfish
