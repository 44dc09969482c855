// A PostProcessor adds the special tokens that frame an encoded sequence (Llama 3's
// <|begin_of_text|>, BERT's [CLS] ... [SEP]) when Encode is asked to add special tokens, as the
// "post_processor" of a tokenizer.json does for a single sequence. Supported types:
// TemplateProcessing (its "single" template), ByteLevel (adds nothing; it only adjusts offsets,
// which this tokenizer does not report), BertProcessing and RobertaProcessing, and Sequence of
// those. JSON null means none. Any other type is an Unimplemented error naming it.
//
// Immutable; Process is const and thread-safe.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_POST_PROCESSOR_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_POST_PROCESSOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Rewrites *ids (the encoded sequence) into the final sequence.
  virtual void Process(std::vector<int32_t>* ids, bool add_special_tokens) const = 0;
};

// Builds the post-processor described by `j` (the "post_processor" field); nullptr for null.
absl::StatusOr<std::unique_ptr<PostProcessor>> MakePostProcessor(const nlohmann::json& j, const JsonPath& at);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_POST_PROCESSOR_H_
