// Debian's Abseil is built in C++14 mode, so absl::string_view is its own class rather than an
// alias of std::string_view, and absl containers' heterogeneous lookup only takes the former.
// AsAbsl converts at that boundary at no cost.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_ABSL_VIEW_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace sparsegate {

inline absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_ABSL_VIEW_H_
