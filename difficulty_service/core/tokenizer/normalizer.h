// A Normalizer rewrites a span of input text before pre-tokenization, as the "normalizer" of a
// tokenizer.json does in Hugging Face tokenizers. Supported types: NFC, NFD, NFKC, NFKD (via
// utf8proc), Prepend, Replace, Strip and Sequence of those; JSON null means no normalizer.
// Any other type is an Unimplemented error naming it.
//
// Normalizers are immutable after construction; Normalize is const and thread-safe. Text passed
// in must be valid UTF-8 and stays valid UTF-8.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_NORMALIZER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites *text in place. Fails only if a Replace regex hits a PCRE2 resource limit.
  virtual absl::Status Normalize(std::string* text) const = 0;
};

// Builds the normalizer described by `j` (the "normalizer" field); returns nullptr for null.
absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const nlohmann::json& j, const JsonPath& at);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_NORMALIZER_H_
