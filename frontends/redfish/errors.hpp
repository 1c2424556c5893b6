#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fwrescue::redfish {

/// A Redfish error answer: the HTTP status and the body DMTF's specification asks for,
/// {"error": {"code", "message", "@Message.ExtendedInfo": [Message]}} (DSP0266 "Error
/// responses"), with the message taken from the Base message registry.
struct error_reply {
  int status = 500;
  nlohmann::ordered_json body;
};

/// The Base registry version the message ids below name.
constexpr std::string_view base_registry = "Base.1.8.1";

/// An error whose one extended message is `message_id` (without the registry prefix) with its
/// registry text filled in from `args`; `detail` is fwrescue's one-line reason, the answer's
/// "message" (the registry text when empty).
error_reply make_error_reply(int status, std::string_view message_id, std::vector<std::string> args,
                             std::string detail = {});

// The answers the service gives, each with its HTTP status.

/// 400: the body does not parse as JSON (or is not an object).
error_reply malformed_json(std::string detail);
/// 400: an action's required parameter is missing.
error_reply action_parameter_missing(std::string_view action, std::string_view parameter);
/// 400: an action's parameter has a value of the wrong type or form; `detail` says why.
error_reply action_parameter_value_format_error(std::string_view value, std::string_view parameter,
                                                std::string_view action, std::string detail);
/// 400: an action's parameter this service does not support.
error_reply action_parameter_not_supported(std::string_view parameter, std::string_view action,
                                           std::string detail = {});
/// 401: no, malformed or wrong credentials.
error_reply unauthorized(std::string detail);
/// 404: no resource at `uri`.
error_reply resource_not_found(std::string_view uri);
/// 405: the resource does not take `method`.
error_reply method_not_allowed(std::string_view method, std::string_view uri);
/// 409: the target is busy (a recovery under way) or in safe hold.
error_reply resource_in_use(std::string detail);
/// 413: the body is larger than [redfish] max_body_kib.
error_reply payload_too_large(size_t max_bytes);
/// 500: the daemon could not answer (a coordinator that did not reply).
error_reply internal_error(std::string detail);

} // namespace fwrescue::redfish
