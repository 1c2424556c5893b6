#pragma once

#include <cstdint>

namespace fwrescue {

/// What a node is to its peers. A console is a donor with a catalog of images; a peer is a
/// recipient that also donates its own verified image.
enum class node_role : uint8_t { peer = 0, console = 1 };

/// "peer" or "console".
const char* to_string(node_role role);

} // namespace fwrescue
