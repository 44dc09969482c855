// AddedVocabulary holds the "added_tokens" of a tokenizer.json (special tokens such as
// <|im_start|>, and plain added ones such as <think>) and finds them in text before the model
// sees it, as Hugging Face's AddedVocabulary does:
//   - tokens with normalized=false are matched in the raw input, tokens with normalized=true in
//     the normalized text (against their own normalized form);
//   - matching is leftmost-longest and non-overlapping; a single_word token that touches a word
//     character on either side is not a match; lstrip / rstrip tokens swallow the whitespace
//     on their left / right.
// Ids follow HF's rule rather than the "id" fields: a token whose content is in the model's
// vocabulary takes that id, any other takes the next id after the vocabulary (the two agree for
// every well-formed file).
//
// Immutable after FromJson; all methods are const and thread-safe.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_ADDED_VOCABULARY_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_ADDED_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/absl_view.h"
#include "difficulty_service/core/tokenizer/bpe_model.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "difficulty_service/core/tokenizer/normalizer.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  // One stretch of text: an added token (id >= 0, whitespace it stripped included) or plain text
  // for the model (id == -1). Offsets are bytes in the text given to Split.
  struct Piece {
    size_t begin;
    size_t end;
    int32_t id;
  };

  // `added_tokens` is the array of that name (null counts as empty). `normalizer` (may be null)
  // gives the normalized forms of normalized tokens.
  static absl::StatusOr<AddedVocabulary> FromJson(const nlohmann::json& added_tokens, const JsonPath& at,
                                                  const BpeModel& model, const Normalizer* normalizer);

  // Cuts `text` into pieces that cover it, looking for the tokens that match raw input
  // (normalized_pass false) or normalized text (true). Empty text gives no pieces.
  void Split(std::string_view text, bool normalized_pass, std::vector<Piece>* out) const;

  std::optional<int32_t> TokenToId(std::string_view content) const;
  // The string that decoding uses for an added id (the normalized form of a normalized token),
  // or nullptr when `id` is not an added token.
  const std::string* DecodeForm(int32_t id) const;
  const AddedToken* Find(int32_t id) const;
  bool IsSpecialContent(std::string_view content) const { return special_contents_.contains(AsAbsl(content)); }
  int32_t max_id() const { return max_id_; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie answering "longest token starting here", scanned left to right.
  class Matcher {
   public:
    void Add(std::string_view pattern, int32_t id);
    bool empty() const { return terminal_.size() <= 1; }
    // Leftmost-longest match starting at or after `from`.
    bool Find(std::string_view text, size_t from, size_t* begin, size_t* end, int32_t* id) const;

   private:
    std::vector<int32_t> terminal_{-1};  // per node: token id ending here, or -1; node 0 is the root
    absl::flat_hash_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
    std::array<bool, 256> first_byte_{};
  };

  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<int32_t, size_t> by_id_;          // id -> index in tokens_
  absl::flat_hash_map<std::string, int32_t> by_content_;
  absl::flat_hash_map<int32_t, std::string> decode_form_;  // only where it differs from content
  absl::flat_hash_set<std::string> special_contents_;
  Matcher raw_;
  Matcher normalized_;
  int32_t max_id_ = -1;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_ADDED_VOCABULARY_H_
