// ChatTemplate renders the prompt a chat model sees for one user message, as
// tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
// tokenize=False) does in transformers, without a Jinja engine. The template's family is found by
// its markers, as llama.cpp does, and the few literals that vary inside a family are read out of
// the template text:
//   chatml   <|im_start|>               Qwen 2 / 2.5 / 3; a default system message the template
//                                       injects when none is given (Qwen 2, 2.5) is reproduced
//   llama3   <|start_header_id|>        Llama 3, and 3.1+ with its "Cutting Knowledge Date" system
//                                       block; the date is the template's fallback literal
//                                       (transformers may substitute today's date via strftime_now)
//   llama2   [INST] with <<SYS>>        Llama 2
//   mistral  [INST] without <<SYS>>     Mistral / Mixtral v0.1-v0.3
// Anything else (including Mistral templates with a [SYSTEM_PROMPT] default) is refused rather
// than rendered wrongly. The BOS text is emitted when the template emits bos_token; the rendered
// string should then be encoded without add_special_tokens, or BOS would appear twice.
//
// A ChatTemplate is an immutable value; RenderUserPrompt is const and thread-safe.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_CHAT_TEMPLATE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_CHAT_TEMPLATE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sparsegate {

class ChatTemplate {
 public:
  enum class Family { kChatMl, kLlama3, kLlama2, kMistral };

  // Reads "chat_template" (a string, or a list of {name, template} of which "default" is used)
  // and "bos_token" from a tokenizer_config.json, or from the one inside a model directory; a
  // chat_template.jinja next to it is used when the config has no template. NotFound when there
  // is no template, FailedPrecondition when it belongs to no supported family; messages name the
  // file. InvalidArgument when the template's Jinja structure is broken (a tag never closed, a
  // block never ended, as in a template cut short).
  static absl::StatusOr<ChatTemplate> FromTokenizerConfig(const std::string& path);
  // The same from the template text itself; `source` names it in errors.
  static absl::StatusOr<ChatTemplate> FromTemplateText(std::string_view template_text, std::string bos_token,
                                                       const std::string& source);

  // The template applied to one user message with add_generation_prompt=true.
  std::string RenderUserPrompt(std::string_view user_text) const;

  Family family() const { return family_; }
  std::string family_name() const;

 private:
  ChatTemplate() = default;

  Family family_ = Family::kChatMl;
  std::string prefix_;  // everything before the user text (BOS, system block, user header)
  std::string suffix_;  // everything after it (end of turn, generation prompt)
  bool trim_user_text_ = false;  // the template applies Jinja's trim / Python's strip() to it
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_CHAT_TEMPLATE_H_
