// A PreTokenizer cuts normalized text into the pieces ("words") that the BPE model encodes
// one at a time, with the semantics of Hugging Face tokenizers' pre_tokenizers. Supported types:
//   Split      {"String"|"Regex"} pattern, behavior Removed / Isolated / MergedWithPrevious /
//              MergedWithNext / Contiguous, invert
//   ByteLevel  add_prefix_space, use_regex (the GPT-2 pattern); maps every byte to the
//              printable character that stands for it in byte-level vocabularies
//   Metaspace  replacement, prepend_scheme always/first/never, split (SentencePiece style)
//   Digits     individual_digits
//   Sequence   of the above
// JSON null means none. Any other type is an Unimplemented error naming it.
//
// Pre-tokenizers are immutable; PreTokenize is const and thread-safe.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_PRE_TOKENIZER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

struct PreTokens {
  std::vector<std::string> pieces;  // never empty strings
  // pieces[0] begins at byte 0 of the text given to Encode; Metaspace's prepend_scheme "first"
  // adds its prefix only to such a piece.
  bool first_at_origin = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces tokens->pieces by their split (and possibly transformed) pieces. Fails only if a
  // regex hits a PCRE2 resource limit.
  virtual absl::Status PreTokenize(PreTokens* tokens) const = 0;
};

// Builds the pre-tokenizer described by `j` (the "pre_tokenizer" field); nullptr for null.
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const nlohmann::json& j, const JsonPath& at);

// The byte-level alphabet: the character (UTF-8) that stands for byte b, and the reverse map
// (-1 for a code point that stands for no byte).
const std::string& ByteLevelChar(unsigned char b);
int ByteLevelByte(char32_t cp);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_PRE_TOKENIZER_H_
