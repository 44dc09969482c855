// ParseJson parses JSON text into nlohmann::json and returns every failure as an InvalidArgument
// status, never an exception. Every JSON reader of the project (dataset rows, outcomes,
// config.json, tokenizer.json, the safetensors header and index, plugin checkpoints) goes
// through it or through CheckJsonDepth.
//
// Why not nlohmann's parse alone: it throws out_of_range, not parse_error, for a number that
// overflows a double ("1e400"), which the parse_error handlers let escape into std::terminate;
// and it has no nesting limit, while copying and dumping a value recurse once per level, so a row
// nested 100,000 deep overflows the stack later. Text nested deeper than kMaxJsonDepth is refused.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_JSON_PARSE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_JSON_PARSE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "difficulty_service/core/common/files.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

// Deeper than any real config, tokenizer or dataset row; far from the stack's limit.
inline constexpr int kMaxJsonDepth = 512;

// OK when no object or array in `text` is nested deeper than `max_depth`. Brackets inside
// strings do not count. Exact for valid JSON; for invalid JSON the parser reports the error.
inline absl::Status CheckJsonDepth(std::string_view text, int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return absl::InvalidArgumentError("JSON nested deeper than " + std::to_string(max_depth) +
                                          " levels (at byte " + std::to_string(i) + ")");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return absl::OkStatus();
}

inline absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, int max_depth = kMaxJsonDepth) {
  if (absl::Status depth = CheckJsonDepth(text, max_depth); !depth.ok()) return depth;
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {  // parse_error and out_of_range alike
    return absl::InvalidArgumentError(e.what());
  }
}

// A parser's message with the text it quotes taken out ("last read: '...'", "parsing '1e400'"), so that
// an error about a file says where and what went wrong without echoing the file's bytes.
inline std::string JsonErrorWithoutText(std::string_view message) {
  if (message.substr(0, 1) == "[") {
    if (const size_t end = message.find("] "); end != std::string_view::npos) message.remove_prefix(end + 2);
  }
  message = message.substr(0, message.find("; last read"));
  std::string out;
  bool quoted = false;
  for (char c : message) {
    if (c == '\'') {
      quoted = !quoted;
      continue;
    }
    if (!quoted) out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The whole file at `path` (at most max_bytes, files.h), parsed: the errors of ReadFile, or
// InvalidArgument "<path>: not valid JSON: <where and why, without the file's text>".
inline absl::StatusOr<nlohmann::json> ParseJsonFile(const std::string& path, int64_t max_bytes = kMaxReadFileBytes) {
  absl::StatusOr<std::string> text = ReadFile(path, max_bytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> parsed = ParseJson(*text);
  if (!parsed.ok())
    return absl::InvalidArgumentError(QuotedPath(path) + ": not valid JSON: " + JsonErrorWithoutText(std::string(parsed.status().message())));
  return parsed;
}

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_JSON_PARSE_H_
