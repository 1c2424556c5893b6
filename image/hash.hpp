#pragma once

#include <cstdint>
#include <span>

#include <sodium.h>

#include "messages/manifest.hpp"

namespace fwrescue {

/// Streaming hash over either algorithm a manifest may name, chosen at run time.
class hasher {
public:
  explicit hasher(hash_algorithm alg);

  void update(std::span<const uint8_t> bytes);

  /// Finishes and returns the digest; the hasher must not be used afterwards.
  digest finish();

private:
  hash_algorithm alg_;
  union {
    crypto_generichash_state blake2b_;
    crypto_hash_sha256_state sha256_;
  };
};

/// Domain prefixes keep a leaf digest from ever equalling an inner-node digest.
constexpr uint8_t leaf_prefix = 0x00;
constexpr uint8_t node_prefix = 0x01;

/// H(0x00 || u64le(index) || block). Binding the index stops a donor from answering a request
/// for one block with another block's (valid) data.
digest leaf_digest(hash_algorithm alg, uint64_t index, std::span<const uint8_t> block);

/// The leaf digests of consecutive blocks: `bytes` holds blocks first_index, first_index + 1, …,
/// each `block_size` long except perhaps the last, and `out` receives one digest per block. With
/// `threads` > 1 the blocks are split into that many contiguous shares hashed at once, one on the
/// calling thread; the result is the same as hashing them one by one.
void leaf_digests(hash_algorithm alg, uint32_t block_size, uint64_t first_index,
                  std::span<const uint8_t> bytes, std::span<digest> out, unsigned threads = 1);

/// How many threads a node spends hashing a whole image: the machine's cores, at most 4.
unsigned hash_threads();

/// H(0x01 || left || right).
digest node_digest(hash_algorithm alg, const digest& left, const digest& right);

/// Digest of a whole byte string with no prefix (for key ids and benchmarks).
digest plain_digest(hash_algorithm alg, std::span<const uint8_t> bytes);

} // namespace fwrescue

namespace fwrescue {

/// Initialises libsodium, which picks the fastest implementation of each primitive for this CPU.
/// Every program calls it once in main() before hashing; it returns false when libsodium cannot
/// be initialised (no usable random source).
bool init_crypto();

} // namespace fwrescue
