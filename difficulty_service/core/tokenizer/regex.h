// Regex runs the patterns of a tokenizer.json. Hugging Face tokenizers compiles them with
// Oniguruma (Ruby syntax); this class compiles them with PCRE2 (UTF, Unicode properties, JIT)
// after rewriting the few escapes whose meaning differs between the two engines, so that \s is
// Unicode White_Space, \w is letters/marks/decimal digits/connectors and \h is a hex digit, as in
// Oniguruma. ^ and $ are line anchors, as they always are in Ruby syntax. Oniguruma itself
// finds the same spans but would make tokenization slower (docs/speed.md, "Regex engine").
//
// A Regex is compiled once and is immutable: FindAll is const and safe to call from many threads
// at once (each call makes its own match data). Input must be valid UTF-8; it is not re-checked.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_REGEX_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_REGEX_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "difficulty_service/core/tokenizer/json_path.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class Regex {
 public:
  struct Match {
    size_t begin;
    size_t end;
  };

  // Compiles an Oniguruma-syntax pattern. Errors give PCRE2's message and the offset in `pattern`.
  static absl::StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  // A pattern that matches `text` literally (the "String" patterns of tokenizer.json).
  static absl::StatusOr<std::unique_ptr<Regex>> CompileLiteral(std::string_view text);

  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the successive non-overlapping matches in `text`, left to right. An empty match
  // directly after the previous match is skipped, which is how Oniguruma's find_iter (and so
  // Hugging Face) steps over empty matches. Fails only when PCRE2 gives up (resource limits).
  absl::Status FindAll(std::string_view text, std::vector<Match>* out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  static absl::StatusOr<std::unique_ptr<Regex>> CompilePcre2(const std::string& pcre_pattern,
                                                             std::string_view original);
  Regex(void* code, bool jit, std::string pattern) : code_(code), jit_(jit), pattern_(std::move(pattern)) {}

  void* code_;  // pcre2_code*, kept opaque so that pcre2.h stays out of this header
  bool jit_;
  std::string pattern_;  // as written in tokenizer.json, for error messages
};

// Compiles a pattern object of tokenizer.json: {"String": "..."} (literal) or {"Regex": "..."}.
absl::StatusOr<std::unique_ptr<Regex>> MakePattern(const nlohmann::json& j, const JsonPath& at);

// The Oniguruma-to-PCRE2 rewrite used by Regex::Compile, exposed for tests.
absl::StatusOr<std::string> TranslateOnigurumaPattern(std::string_view pattern);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_REGEX_H_
