#include "image/blake2b_lanes.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "image/hash.hpp"

// The compression function below is BLAKE2b as RFC 7693 specifies it, written once over a
// GCC vector type whose lanes are independent messages. Each x86 function that instantiates it
// is compiled for its instruction set (AVX-512: 8 lanes in one register, AVX2: 4 lanes), and
// the CPU's support is checked once at run time. Other CPUs keep libsodium's one-at-a-time
// hash: two 64-bit lanes in 128-bit registers measured slower than it.

namespace fwrescue {
namespace {

constexpr uint64_t blake2b_iv[8] = {
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
};

/// The message word order of each round; round r uses row r % 10 (RFC 7693, 2.7).
constexpr uint8_t blake2b_sigma[10][16] = {
  {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
  {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
  {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
  {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
  {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
  {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
  {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
  {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
  {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
  {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

/// Parameter block word 0 for an unkeyed 32-byte digest: digest length 32, fanout 1, depth 1.
constexpr uint64_t blake2b_param0 = 0x01010000 | sizeof(digest);

constexpr size_t chunk_bytes = 128;
constexpr size_t leaf_header_bytes = 9; // leaf_prefix, then the index as u64le

typedef uint64_t lanes4 __attribute__((vector_size(32)));
typedef uint64_t lanes8 __attribute__((vector_size(64)));

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v; // the kernels exist only on x86-64, which is little-endian
}

#define FWRESCUE_ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define FWRESCUE_G(a, b, c, d, x, y)                                                             \
  do {                                                                                           \
    v[a] = v[a] + v[b] + (x);                                                                    \
    v[d] = FWRESCUE_ROTR(v[d] ^ v[a], 32);                                                       \
    v[c] = v[c] + v[d];                                                                          \
    v[b] = FWRESCUE_ROTR(v[b] ^ v[c], 24);                                                       \
    v[a] = v[a] + v[b] + (y);                                                                    \
    v[d] = FWRESCUE_ROTR(v[d] ^ v[a], 16);                                                       \
    v[c] = v[c] + v[d];                                                                          \
    v[b] = FWRESCUE_ROTR(v[b] ^ v[c], 63);                                                       \
  } while (0)

/// Hashes sizeof(V) / 8 consecutive whole blocks, one per lane, into out[0 .. lanes).
template <class V>
[[gnu::always_inline]] inline void hash_group(uint32_t block_size, uint64_t first_index,
                                              const uint8_t* bytes, digest* out) {
  constexpr size_t lanes = sizeof(V) / sizeof(uint64_t);
  const size_t length = leaf_header_bytes + size_t{block_size};
  const size_t chunks = (length + chunk_bytes - 1) / chunk_bytes;
  // The first chunk (header, then the block's start) and the last (zero-padded) are assembled
  // here; the chunks between are read where they lie in `bytes`.
  alignas(64) uint8_t first[lanes][chunk_bytes] = {};
  alignas(64) uint8_t last[lanes][chunk_bytes] = {};
  for (size_t j = 0; j < lanes; ++j) {
    const uint8_t* block = bytes + j * block_size;
    uint64_t index = first_index + j;
    first[j][0] = leaf_prefix;
    for (size_t i = 0; i < 8; ++i)
      first[j][1 + i] = static_cast<uint8_t>(index >> (8 * i));
    std::memcpy(first[j] + leaf_header_bytes, block,
                std::min<size_t>(block_size, chunk_bytes - leaf_header_bytes));
    if (chunks > 1) {
      auto from = (chunks - 1) * chunk_bytes;
      std::memcpy(last[j], block + from - leaf_header_bytes, length - from);
    }
  }

  V h[8];
  for (size_t i = 0; i < 8; ++i)
    h[i] = V{} + blake2b_iv[i];
  h[0] ^= blake2b_param0;

  for (size_t k = 0; k < chunks; ++k) {
    const bool final_chunk = k + 1 == chunks;
    // Word i of every lane's chunk, side by side: a transpose through memory, which costs less
    // than inserting the words into vector registers one at a time.
    alignas(64) uint64_t words[16][lanes];
    for (size_t j = 0; j < lanes; ++j) {
      const uint8_t* p = k == 0        ? first[j]
                         : final_chunk ? last[j]
                                       : bytes + j * block_size + k * chunk_bytes -
                                             leaf_header_bytes;
      for (size_t i = 0; i < 16; ++i)
        words[i][j] = load_le64(p + 8 * i);
    }
    V m[16];
    std::memcpy(m, words, sizeof m);
    // Bytes hashed so far, this chunk included (messages here are far below 2^64 bytes, so
    // the counter's high word stays 0).
    const uint64_t counter = final_chunk ? length : (k + 1) * chunk_bytes;

    V v[16];
    for (size_t i = 0; i < 8; ++i) {
      v[i] = h[i];
      v[i + 8] = V{} + blake2b_iv[i];
    }
    v[12] ^= counter;
    if (final_chunk)
      v[14] = ~v[14];

#pragma GCC unroll 12
    for (size_t r = 0; r < 12; ++r) {
      const uint8_t* s = blake2b_sigma[r % 10];
      FWRESCUE_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
      FWRESCUE_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
      FWRESCUE_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
      FWRESCUE_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
      FWRESCUE_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
      FWRESCUE_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
      FWRESCUE_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
      FWRESCUE_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (size_t i = 0; i < 8; ++i)
      h[i] ^= v[i] ^ v[i + 8];
  }

  for (size_t j = 0; j < lanes; ++j)
    for (size_t i = 0; i < 4; ++i) {
      uint64_t word = h[i][j];
      std::memcpy(out[j].data() + 8 * i, &word, sizeof word);
    }
}

#undef FWRESCUE_G
#undef FWRESCUE_ROTR

using group_fn = void (*)(uint32_t, uint64_t, const uint8_t*, digest*);

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void hash_group_avx512(uint32_t block_size, uint64_t first,
                                                          const uint8_t* bytes, digest* out) {
  hash_group<lanes8>(block_size, first, bytes, out);
}

__attribute__((target("avx2"))) void hash_group_avx2(uint32_t block_size, uint64_t first,
                                                     const uint8_t* bytes, digest* out) {
  hash_group<lanes4>(block_size, first, bytes, out);
}
#endif

struct group_kernel {
  group_fn fn;
  unsigned lanes;
};

/// The kernels this CPU can run, widest first.
std::vector<group_kernel> supported_kernels() {
  std::vector<group_kernel> out;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    out.push_back({hash_group_avx512, 8});
  if (__builtin_cpu_supports("avx2"))
    out.push_back({hash_group_avx2, 4});
#endif
  return out;
}

const std::vector<group_kernel>& kernels() {
  static const std::vector<group_kernel> all = supported_kernels();
  return all;
}

} // namespace

unsigned blake2b_lanes() {
  return kernels().empty() ? 1 : kernels().front().lanes;
}

std::vector<unsigned> blake2b_lane_widths() {
  std::vector<unsigned> out;
  for (const auto& k : kernels())
    out.push_back(k.lanes);
  return out;
}

void blake2b_leaf_digests(uint32_t block_size, uint64_t first_index,
                          std::span<const uint8_t> bytes, std::span<digest> out, unsigned lanes) {
  size_t done = 0;
  const auto& all = kernels();
  auto k = std::find_if(all.begin(), all.end(),
                        [&](const group_kernel& g) { return lanes == 0 || g.lanes == lanes; });
  if (k != all.end())
    for (; done + k->lanes <= out.size(); done += k->lanes)
      k->fn(block_size, first_index + done, bytes.data() + done * block_size, out.data() + done);
  for (; done < out.size(); ++done)
    out[done] = leaf_digest(hash_algorithm::blake2b_256, first_index + done,
                            bytes.subspan(done * block_size, block_size));
}

} // namespace fwrescue
