// A Decoder turns token strings back into text, as the "decoder" of a tokenizer.json does in
// Hugging Face tokenizers: each one rewrites the list of token strings, and the result is their
// concatenation. Supported types: ByteLevel (byte-level BPE: Qwen, Llama 3, GPT-2), and for
// SentencePiece-style BPE (Llama 2, Mistral) Metaspace, Replace, ByteFallback, Fuse, Strip; and
// Sequence of those. Any other type is an Unimplemented error naming it.
//
// Immutable; DecodeChain is const and thread-safe.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_DECODER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_DECODER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings in place; the decoded text is their concatenation.
  virtual void DecodeChain(std::vector<std::string>* tokens) const = 0;
};

// Builds the decoder described by `j` (the "decoder" field); nullptr for null.
absl::StatusOr<std::unique_ptr<Decoder>> MakeDecoder(const nlohmann::json& j, const JsonPath& at);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_DECODER_H_
