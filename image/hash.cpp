#include "image/hash.hpp"

#include "image/blake2b_lanes.hpp"

#include <algorithm>
#include <thread>
#include <vector>

namespace fwrescue {

hasher::hasher(hash_algorithm alg) : alg_(alg) {
  if (alg_ == hash_algorithm::sha256)
    crypto_hash_sha256_init(&sha256_);
  else
    crypto_generichash_init(&blake2b_, nullptr, 0, sizeof(digest));
}

void hasher::update(std::span<const uint8_t> bytes) {
  if (alg_ == hash_algorithm::sha256)
    crypto_hash_sha256_update(&sha256_, bytes.data(), bytes.size());
  else
    crypto_generichash_update(&blake2b_, bytes.data(), bytes.size());
}

digest hasher::finish() {
  digest out;
  if (alg_ == hash_algorithm::sha256)
    crypto_hash_sha256_final(&sha256_, out.data());
  else
    crypto_generichash_final(&blake2b_, out.data(), out.size());
  return out;
}

digest leaf_digest(hash_algorithm alg, uint64_t index, std::span<const uint8_t> block) {
  uint8_t header[9];
  header[0] = leaf_prefix;
  for (int i = 0; i < 8; ++i)
    header[1 + i] = static_cast<uint8_t>(index >> (8 * i));
  hasher h{alg};
  h.update(header);
  h.update(block);
  return h.finish();
}

void leaf_digests(hash_algorithm alg, uint32_t block_size, uint64_t first_index,
                  std::span<const uint8_t> bytes, std::span<digest> out, unsigned threads) {
  auto count = out.size();
  auto hash_share = [&](size_t from, size_t to) {
    if (alg == hash_algorithm::blake2b_256) {
      // Whole blocks go several at a time through the SIMD lanes; a short last block, alone.
      auto whole = std::min(to, bytes.size() / block_size);
      if (whole > from) {
        blake2b_leaf_digests(block_size, first_index + from,
                             bytes.subspan(from * block_size, (whole - from) * block_size),
                             out.subspan(from, whole - from));
        from = whole;
      }
    }
    for (size_t k = from; k < to; ++k) {
      auto offset = k * block_size;
      auto length = std::min<size_t>(block_size, bytes.size() - offset);
      out[k] = leaf_digest(alg, first_index + k, bytes.subspan(offset, length));
    }
  };
  // Below a few blocks per thread, starting a thread costs more than it saves.
  threads = static_cast<unsigned>(std::clamp<size_t>(count / 16, 1, std::max(threads, 1u)));
  std::vector<std::jthread> helpers;
  helpers.reserve(threads - 1);
  auto per = (count + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t)
    helpers.emplace_back(hash_share, std::min(count, t * per), std::min(count, (t + 1) * per));
  hash_share(0, std::min(count, per));
}

unsigned hash_threads() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

digest node_digest(hash_algorithm alg, const digest& left, const digest& right) {
  uint8_t buf[1 + 2 * sizeof(digest)];
  buf[0] = node_prefix;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 1 + sizeof(digest));
  hasher h{alg};
  h.update(buf);
  return h.finish();
}

digest plain_digest(hash_algorithm alg, std::span<const uint8_t> bytes) {
  hasher h{alg};
  h.update(bytes);
  return h.finish();
}

} // namespace fwrescue

namespace fwrescue {

bool init_crypto() {
  return sodium_init() >= 0;
}

} // namespace fwrescue
