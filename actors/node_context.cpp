#include "actors/node_context.hpp"

#include <array>

namespace fwrescue {

bool per_target(caf::atom_value role) {
  constexpr std::array shared{roles::router, roles::donor, roles::media_watcher, roles::fleet};
  return std::find(shared.begin(), shared.end(), role) == shared.end();
}

caf::atom_value role_of(caf::atom_value role, uint32_t index) {
  if (index == 0)
    return role;
  // Atoms hold 10 characters; the longest role name is 9, and a node has at most 9 targets.
  return caf::atom_from_string(caf::to_string(role) + std::to_string(index));
}

} // namespace fwrescue
