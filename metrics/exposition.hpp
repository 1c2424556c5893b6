#pragma once

// Prometheus text exposition format 0.0.4: what GET /metrics answers, on the daemon's own
// listener (metrics/listener) and on any other server that mounts the same text.

#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.hpp"

namespace fwrescue {

/// The Content-Type of the text render() produces.
constexpr std::string_view exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// `value` escaped for a label value inside double quotes: `\` `"` and newline.
std::string escape_label_value(std::string_view value);

/// Renders `families` in order: # HELP and # TYPE, then one sample per line; a histogram's
/// series as cumulative _bucket lines (le="+Inf" last), _sum and _count.
std::string render(const std::vector<family_snapshot>& families);

/// Every family `registry` holds and collects, rendered.
std::string render(const metric_registry& registry);

} // namespace fwrescue
