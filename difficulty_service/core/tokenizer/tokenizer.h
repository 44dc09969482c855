// Tokenizer encodes text to token ids and back exactly as Hugging Face tokenizers does with the
// same tokenizer.json, for BPE checkpoints: byte-level ones (Qwen 2/2.5/3, Llama 3, GPT-2) and
// SentencePiece-style ones with byte fallback (Llama 2, Mistral). Encoding runs HF's pipeline:
//   added tokens found in the raw text -> normalizer -> added tokens found in the normalized
//   text -> pre_tokenizer -> BPE model -> post_processor (only with add_special_tokens).
// See normalizer.h, pre_tokenizer.h, bpe_model.h, added_vocabulary.h, post_processor.h and
// decoder.h for the component types each stage supports; a file naming any other type fails to
// load with an Unimplemented error that names the file, the field and the type.
//
// A Tokenizer is immutable after loading. Encode and Decode are const and safe to call from many
// threads at once.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_TOKENIZER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class AddedVocabulary;
class BpeModel;
class Decoder;
class Normalizer;
class PostProcessor;
class PreTokenizer;

class Tokenizer {
 public:
  // Loads a Hugging Face tokenizer.json. Errors name the file and the unsupported/invalid component.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(const nlohmann::json& j, const std::string& source_name);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Thread-safe, const. InvalidArgument on invalid UTF-8 (message gives the byte offset).
  // add_special_tokens applies the post_processor (e.g. Llama 3's BOS via TemplateProcessing).
  // Special tokens written in the text itself (e.g. "<|im_start|>") always encode to their ids.
  // With `max_tokens`, encoding stops once more than max_tokens ids are out (the result then holds
  // more than max_tokens ids, fewer than the whole text would give): a caller that will refuse an
  // over-long prompt anyway does not pay for the rest of it.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text, bool add_special_tokens,
                                              size_t max_tokens = std::numeric_limits<size_t>::max()) const;

  // Ids that name no token are skipped; bytes that do not form valid UTF-8 become U+FFFD.
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;

  int32_t vocab_size() const;  // max token id + 1, counting added tokens
  // What loading noticed but did not refuse, one sentence each (an unk_token missing from the
  // vocabulary, which Hugging Face also loads; it fails on the first unknown character instead).
  std::vector<std::string> load_warnings() const;
  std::optional<int32_t> TokenToId(std::string_view token) const;
  std::optional<std::string> IdToToken(int32_t id) const;
  bool IsSpecial(int32_t id) const;

 private:
  Tokenizer() = default;

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<AddedVocabulary> added_;
  std::string source_name_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_TOKENIZER_H_
