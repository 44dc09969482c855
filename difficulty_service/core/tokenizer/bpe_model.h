// BpeModel is the "model" of a tokenizer.json of type BPE: a vocabulary (token -> id) and a ranked
// list of merges. Tokenize encodes one pre-token exactly as Hugging Face's BPE model does:
// every character becomes its vocabulary id (or its <0xNN> byte tokens with byte_fallback, or
// unk_token, fused with fuse_unk, or nothing), then the lowest-ranked adjacent pair is merged
// repeatedly, leftmost first among equal ranks. Merging uses a binary heap over a linked list of
// symbols, so a piece of n characters costs O(n log n) rather than O(n^2).
//
// Supported fields: vocab, merges ("a b" strings or ["a", "b"] pairs), unk_token, fuse_unk,
// byte_fallback, ignore_merges, continuing_subword_prefix, end_of_word_suffix. A non-zero dropout
// is refused (it makes encoding random).
//
// Thread-safe: everything is immutable after FromJson except a bounded per-word cache, which is
// sharded and guarded by locks.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_BPE_MODEL_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class BpeModel {
 public:
  // `j` is the "model" object; `at` names it in errors.
  static absl::StatusOr<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& j, const JsonPath& at);

  // Appends the ids of `word` (valid UTF-8) to *ids. Nothing for an empty word.
  void Tokenize(std::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  const std::string* IdToToken(int32_t id) const;  // nullptr when no token has that id
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }
  size_t vocab_entries() const { return vocab_.size(); }
  // The file names an unk_token that its vocabulary lacks: characters it cannot encode are dropped.
  bool unk_token_missing() const { return unk_token_missing_; }

 private:
  bool unk_token_missing_ = false;
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };

  // A bounded cache of word -> ids. When a shard fills up it is emptied: cheap, and a server
  // working through one corpus refills it with that corpus' frequent words.
  class WordCache {
   public:
    bool Lookup(std::string_view word, std::vector<int32_t>* ids) const;
    void Insert(std::string_view word, const int32_t* ids, size_t n) const;

   private:
    static constexpr size_t kShards = 16;
    static constexpr size_t kEntriesPerShard = 4096;
    struct Shard {
      std::shared_mutex mu;
      absl::flat_hash_map<std::string, std::vector<int32_t>> map;
    };
    mutable std::array<Shard, kShards> shards_;
  };

  BpeModel() = default;
  void MergeWord(std::string_view word, std::vector<int32_t>* ids) const;
  int32_t CharId(std::string_view word, size_t pos, size_t len, std::string* scratch) const;
  const Merge* FindMerge(int32_t left, int32_t right) const {
    auto it = merges_.find((static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right));
    return it == merges_.end() ? nullptr : &it->second;
  }

  absl::flat_hash_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  // Ids of the one- and two-byte characters, the whole alphabet of byte-level vocabularies:
  // spares a hash lookup per character. -1 when absent. Unused with a prefix or suffix.
  std::vector<int32_t> small_char_ids_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  std::array<int32_t, 256> byte_ids_{};  // ids of <0x00>..<0xFF>, -1 when absent
  bool ignore_merges_ = false;
  WordCache cache_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_BPE_MODEL_H_
