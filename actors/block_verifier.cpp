#include <vector>

#include "actors/transfer.hpp"
#include "image/hash.hpp"

namespace fwrescue {

caf::behavior block_verifier::make_behavior() {
  return {
    [this](verify_run& r) {
      // The memory the run's blocks will be kept in gets its pages here, on a verifier's thread,
      // rather than by page faults on the transfer's when they are copied in.
      if (r.keep)
        r.keep->prepare(r.first, r.expected.size());
      std::vector<digest> got(r.expected.size());
      leaf_digests(r.alg, r.block_size, r.first, r.bytes, got, 1);
      uint64_t good = 0;
      while (good < got.size() && got[good] == r.expected[good])
        ++good;
      send(caf::actor_cast<caf::actor>(current_sender()),
           run_verified{r.epoch, r.source, r.first, std::move(r.bytes), good, got.size()});
    },
  };
}

} // namespace fwrescue
