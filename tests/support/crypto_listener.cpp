// Every test executable links this: it initialises libsodium once before the first test, as
// main() does in the programs.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "image/hash.hpp"

namespace {

struct crypto_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testRunStarting(const Catch::TestRunInfo&) override {
    if (!fwrescue::init_crypto())
      throw std::runtime_error("libsodium failed to initialise");
  }
};

} // namespace

CATCH_REGISTER_LISTENER(crypto_listener)
