#include "trainer_plugin/hints/hint_template.h"

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {
namespace {

constexpr char kPlaceholder[] = "{hint}";
constexpr size_t kPlaceholderSize = sizeof(kPlaceholder) - 1;

}  // namespace

HintTemplate HintTemplate::Default() {
  return {
      "\n\nTo help you start, here is the first part of a worked solution. Continue from where it stops and "
      "finish solving the problem.\n\n<partial_solution>\n{hint}\n</partial_solution>"};
}

HintTemplate HintTemplate::Ghpo() {
  return {"\n The following text is the beginning part of the answer, which you can refer to for solving the "
          "problem:\n{hint}"};
}

absl::Status ValidateHintTemplate(const HintTemplate& hint_template) {
  const size_t first = hint_template.block.find(kPlaceholder);
  if (first == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("hint template has no ", kPlaceholder, " placeholder"));
  }
  if (hint_template.block.find(kPlaceholder, first + kPlaceholderSize) != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("hint template has more than one ", kPlaceholder, " placeholder"));
  }
  return absl::OkStatus();
}

std::string RenderHintBlock(const HintTemplate& hint_template, std::string_view reference_prefix) {
  const std::string& block = hint_template.block;
  const size_t at = block.find(kPlaceholder);
  if (at == std::string::npos) return block;
  std::string rendered;
  rendered.reserve(block.size() - kPlaceholderSize + reference_prefix.size());
  rendered.append(block, 0, at).append(reference_prefix).append(block, at + kPlaceholderSize);
  return rendered;
}

std::string ApplyHintBlock(std::string_view prompt, std::string_view hint_block) {
  std::string hinted;
  hinted.reserve(prompt.size() + hint_block.size());
  hinted.append(prompt).append(hint_block);
  return hinted;
}

}  // namespace sparsegate::plugin
