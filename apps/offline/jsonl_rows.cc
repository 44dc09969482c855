#include "apps/offline/jsonl_rows.h"

#include <spdlog/spdlog.h>

#include <iostream>

#include "difficulty_service/common/json_parse.h"

namespace sparsegate::offline {

using nlohmann::json;

std::optional<JsonlRow> JsonlReader::Next() {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not rows
    JsonlRow row;
    row.line = line_;
    if (absl::StatusOr<json> value = ParseJson(line); value.ok()) {
      row.value = *std::move(value);
    } else {
      row.error = "invalid JSON: " + std::string(value.status().message());
    }
    row.raw = std::move(line);
    return row;
  }
  return std::nullopt;
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
