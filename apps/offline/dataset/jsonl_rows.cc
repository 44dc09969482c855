#include "apps/offline/dataset/jsonl_rows.h"

#include <spdlog/spdlog.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/common/json_parse.h"

namespace sparsegate::offline {

using nlohmann::json;

std::optional<JsonlRow> JsonlReader::Next() {
  std::streambuf* buffer = in_.rdbuf();
  std::string line;
  for (;;) {
    // Read by hand, not std::getline: a line past the bound is skipped to its end without being
    // stored (a 50 MB line used to take 54 s and 5.6 GB to be refused).
    line.clear();
    int64_t length = 0;
    bool any = false;
    for (int c = buffer->sbumpc(); c != std::char_traits<char>::eof(); c = buffer->sbumpc()) {
      any = true;
      if (c == '\n') break;
      if (++length <= max_line_bytes_) line.push_back(static_cast<char>(c));
    }
    if (!any) {
      in_.setstate(std::ios::eofbit);
      return std::nullopt;
    }
    ++line_;
    JsonlRow row;
    row.line = line_;
    if (length > max_line_bytes_) {
      row.error = absl::StrCat("the line has ", length, " bytes, over the limit of ", max_line_bytes_,
                               " per row; it was not parsed");
      return row;  // raw stays empty: the line is in the input, at this number
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) {  // blank lines are not rows, but are counted
      ++blank_lines_;
      continue;
    }
    if (absl::StatusOr<json> value = ParseJson(line); value.ok()) {
      row.value = *std::move(value);
    } else {
      row.error = "invalid JSON: " + std::string(value.status().message());
    }
    row.raw = std::move(line);
    return row;
  }
}

absl::StatusOr<std::string> StringField(const json& row, const std::string& field) {
  if (!row.is_object()) return absl::InvalidArgumentError("row is not a JSON object");
  auto it = row.find(field);
  if (it == row.end()) return absl::InvalidArgumentError("missing field '" + field + "'");
  if (!it->is_string()) return absl::InvalidArgumentError("field '" + field + "' is not a string");
  return it->get<std::string>();
}

std::string DumpJson(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

int JsonlFiles::Open(const std::string& input, const std::string& output) {
  if (input != "-") {
    // A directory opens as a stream that reads nothing: "0 rows", exit 0. (A FIFO is a fine input.)
    if (absl::StatusOr<FileKind> kind = KindOf(input); !kind.ok() || *kind == FileKind::kDirectory) {
      spdlog::error("{}", kind.ok() ? QuotedPath(input) + ": a directory, not a JSONL file" : std::string(kind.status().message()));
      return 2;
    }
    file_in_.open(input);
    if (!file_in_) {
      spdlog::error("{}: cannot open", input);
      return 2;
    }
    in = &file_in_;
    source_ = input;
  }
  if (output != "-") {
    file_out_.open(output);
    if (!file_out_) {
      spdlog::error("{}: cannot write", output);
      return 2;
    }
    out = &file_out_;
  }
  return 0;
}

void JsonlFiles::Error(int64_t line, const std::string& message) {
  std::cerr << source_ << ":" << line << ": " << message << "\n";
  Write(json{{"line", line}, {"error", message}});
}

}  // namespace sparsegate::offline
