#include "messages/node.hpp"

namespace fwrescue {

const char* to_string(node_role role) {
  return role == node_role::console ? "console" : "peer";
}

} // namespace fwrescue
