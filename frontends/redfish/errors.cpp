#include "frontends/redfish/errors.hpp"

#include <fmt/format.h>

namespace fwrescue::redfish {

namespace {

struct registry_entry {
  std::string_view id;
  /// The registry's message, %1.. replaced by the arguments.
  std::string_view text;
  std::string_view severity;
  std::string_view resolution;
};

// From DMTF's Base.1.8.1 registry (DSP8011), the messages this service answers with.
constexpr registry_entry registry[] = {
  {"MalformedJSON",
   "The request body submitted was malformed JSON and could not be parsed by "
   "the receiving service.",
   "Critical", "Ensure that the request body is valid JSON and resubmit the request."},
  {"ActionParameterMissing",
   "The action %1 requires the parameter %2 to be present in the "
   "request body.",
   "Critical",
   "Supply the action with the required parameter in the request body when the "
   "request is resubmitted."},
  {"ActionParameterValueFormatError",
   "The value %1 for the parameter %2 in the action %3 is of "
   "a different format than the parameter can accept.",
   "Warning",
   "Correct the value for the parameter in the request body and resubmit the request "
   "if the operation failed."},
  {"ActionParameterNotSupported",
   "The parameter %1 for the action %2 is not supported on the "
   "target resource.",
   "Warning", "Remove the parameter supplied and resubmit the request if the operation failed."},
  {"ResourceAtUriUnauthorized",
   "While accessing the resource at %1, the service received an "
   "authorization error %2.",
   "Critical",
   "Ensure that the appropriate access is provided for the service in order for it "
   "to access the URI."},
  {"ResourceNotFound", "The requested resource of type %1 named %2 was not found.", "Critical",
   "Provide a valid resource identifier and resubmit the request."},
  {"OperationNotAllowed", "The HTTP method is not allowed on this resource.", "Critical", "None."},
  {"ResourceInUse",
   "The change to the requested resource failed because the resource is in use "
   "or in transition.",
   "Warning", "Remove the condition and resubmit the request if the operation failed."},
  {"GeneralError",
   "A general error has occurred. See Resolution for information on how to "
   "resolve the error.",
   "Critical", "None."},
  {"InternalError",
   "The request failed due to an internal service error.  The service is still "
   "operational.",
   "Critical", "Resubmit the request.  If the problem persists, consider resetting the service."},
};

const registry_entry& entry_of(std::string_view id) {
  for (const auto& e : registry)
    if (e.id == id)
      return e;
  return registry[8]; // GeneralError
}

std::string fill(std::string_view text, const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 1 < text.size() && text[i + 1] >= '1' && text[i + 1] <= '9') {
      size_t n = static_cast<size_t>(text[i + 1] - '1');
      out += n < args.size() ? args[n] : std::string{};
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

} // namespace

error_reply make_error_reply(int status, std::string_view message_id, std::vector<std::string> args,
                             std::string detail) {
  const auto& e = entry_of(message_id);
  auto id = fmt::format("{}.{}", base_registry, e.id);
  auto text = fill(e.text, args);
  nlohmann::ordered_json info{{"@odata.type", "#Message.v1_1_1.Message"},
                              {"MessageId", id},
                              {"Message", text},
                              {"MessageArgs", args},
                              {"MessageSeverity", e.severity},
                              {"Severity", e.severity},
                              {"Resolution", e.resolution}};
  nlohmann::ordered_json error{{"code", id},
                               {"message", detail.empty() ? text : detail},
                               {"@Message.ExtendedInfo", nlohmann::ordered_json::array({info})}};
  return {status, {{"error", std::move(error)}}};
}

error_reply malformed_json(std::string detail) {
  return make_error_reply(400, "MalformedJSON", {}, std::move(detail));
}

error_reply action_parameter_missing(std::string_view action, std::string_view parameter) {
  return make_error_reply(400, "ActionParameterMissing",
                          {std::string{action}, std::string{parameter}});
}

error_reply action_parameter_value_format_error(std::string_view value, std::string_view parameter,
                                                std::string_view action, std::string detail) {
  return make_error_reply(400, "ActionParameterValueFormatError",
                          {std::string{value}, std::string{parameter}, std::string{action}},
                          std::move(detail));
}

error_reply action_parameter_not_supported(std::string_view parameter, std::string_view action,
                                           std::string detail) {
  return make_error_reply(400, "ActionParameterNotSupported",
                          {std::string{parameter}, std::string{action}}, std::move(detail));
}

error_reply unauthorized(std::string detail) {
  return make_error_reply(401, "ResourceAtUriUnauthorized", {"/redfish/v1", "Unauthorized"},
                          std::move(detail));
}

error_reply resource_not_found(std::string_view uri) {
  return make_error_reply(404, "ResourceNotFound", {"Resource", std::string{uri}});
}

error_reply method_not_allowed(std::string_view method, std::string_view uri) {
  return make_error_reply(405, "OperationNotAllowed", {},
                          fmt::format("{} is not allowed on {}", method, uri));
}

error_reply resource_in_use(std::string detail) {
  return make_error_reply(409, "ResourceInUse", {}, std::move(detail));
}

error_reply payload_too_large(size_t max_bytes) {
  return make_error_reply(
    413, "GeneralError", {},
    fmt::format("the request body is larger than the {} bytes allowed", max_bytes));
}

error_reply internal_error(std::string detail) {
  return make_error_reply(500, "InternalError", {}, std::move(detail));
}

} // namespace fwrescue::redfish
