// Hashes whose values never change between builds, processes or machines. They choose the
// held-out prompts, generate the hidden-vector projection and checksum checkpoint files, so a
// value computed today must be the value computed after a restart. absl::Hash and std::hash make
// no such promise, hence these few lines.
#ifndef SPARSEGATE_TRAINER_PLUGIN_STABLE_HASH_H_
#define SPARSEGATE_TRAINER_PLUGIN_STABLE_HASH_H_

#include <cstdint>
#include <string_view>

namespace sparsegate::plugin {

// 64-bit FNV-1a over the bytes.
inline uint64_t StableHash64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// SplitMix64's finaliser applied to a combination of two words: well-mixed bits from a pair of
// integers (a seed and a position), for pseudo-random patterns that need no stored state.
inline uint64_t MixHash64(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_STABLE_HASH_H_
