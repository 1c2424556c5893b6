#include "policies/policy.hpp"
#include "policies/selection.hpp"

namespace fwrescue {

policy_registry make_policy_registry() {
  return {
    {"first-responder", policies::first_responder},
    {"prefer-console", policies::prefer_console},
  };
}

std::string known_policies(const policy_registry& registry) {
  std::string out;
  for (const auto& [name, fn] : registry)
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

} // namespace fwrescue
