// JSONL in and out for the offline commands (score, generate, filter).
//
// JsonlReader yields one row per non-blank line with its 1-based line number: the parsed value, or
// the parse error (a bad row is reported, never skipped), and the raw text for a rejects file.
// JsonlFiles opens the input and output ('-' = stdin / stdout) and writes result and error rows.
#ifndef SPARSEGATE_APPS_OFFLINE_DATASET_JSONL_ROWS_H_
#define SPARSEGATE_APPS_OFFLINE_DATASET_JSONL_ROWS_H_

#include <cstdint>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate::offline {

struct JsonlRow {
  int64_t line = 0;
  nlohmann::json value;  // null when the line is not valid JSON
  std::string error;     // "invalid JSON: ..." when it is not
  std::string raw;
};

// The longest line read as a row by default: far above any dataset row, far below what parsing
// would make of it in memory.
inline constexpr int64_t kMaxJsonlLineBytes = int64_t{8} << 20;

class JsonlReader {
 public:
  // `lines_before`: lines already consumed before the stream's position (to resume a file midway).
  explicit JsonlReader(std::istream& in, int64_t lines_before = 0, int64_t max_line_bytes = kMaxJsonlLineBytes)
      : in_(in), line_(lines_before), max_line_bytes_(max_line_bytes) {}
  // The next non-blank line, or nullopt at the end of the input. A line over max_line_bytes is a
  // row with an error (and no raw text), read to its end but never stored or parsed.
  std::optional<JsonlRow> Next();
  // Lines consumed so far (blank ones included), and the blank ones among them.
  int64_t line() const { return line_; }
  int64_t blank_lines() const { return blank_lines_; }

 private:
  std::istream& in_;
  int64_t line_ = 0;
  int64_t blank_lines_ = 0;
  const int64_t max_line_bytes_;
};

// The named field of an object row, which must be a string.
absl::StatusOr<std::string> StringField(const nlohmann::json& row, const std::string& field);

// One JSON value on one line. Invalid UTF-8 (an error message can quote a row's bad bytes) is
// replaced rather than thrown on.
std::string DumpJson(const nlohmann::json& value);

class JsonlFiles {
 public:
  // Returns 0, or 2 after logging which file cannot be opened.
  int Open(const std::string& input, const std::string& output);
  std::istream* in = &std::cin;
  std::ostream* out = &std::cout;
  // The input's name for messages: its path, or <stdin>.
  const std::string& source() const { return source_; }
  void Write(const nlohmann::json& row) { *out << DumpJson(row) << "\n"; }
  // {"line", "error"} on the output, and SOURCE:LINE: message on stderr.
  void Error(int64_t line, const std::string& message);

 private:
  std::ifstream file_in_;
  std::ofstream file_out_;
  std::string source_ = "<stdin>";
};

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_DATASET_JSONL_ROWS_H_
