#pragma once

// Reloading the configuration (SIGHUP, `fwrescue reload`) while the node runs: the context each
// target's actors work from, and the check of what may change without a restart.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/node_context.hpp"

namespace fwrescue {

/// The context in force. Reloads replace it; a child restarted later starts with the new one.
class context_holder {
public:
  explicit context_holder(context_ptr ctx) : ctx_(std::move(ctx)) {
  }
  context_ptr get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return ctx_;
  }
  void set(context_ptr ctx) {
    std::lock_guard<std::mutex> guard{mtx_};
    ctx_ = std::move(ctx);
  }

private:
  mutable std::mutex mtx_;
  context_ptr ctx_;
};

/// Every target's context holder, by target index.
using holders = std::vector<std::shared_ptr<context_holder>>;

/// Re-reads the configuration. On success every actor gets the new context and the answer
/// says what is in force; on failure the old configuration stays and the answer says why.
caf::expected<std::string> reload(caf::actor_system& sys, const holders& targets,
                                  const std::string& config_path);

} // namespace fwrescue
