#include "apps/offline/filter/filter_progress.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/common/json_parse.h"
#include "trainer_plugin/state/atomic_file.h"

namespace sparsegate::offline {
namespace {

using nlohmann::json;

absl::Status Damaged(const std::string& path, const std::string& what) {
  return absl::DataLossError(absl::StrCat(path, ": damaged progress file: ", what, "; run with --restart"));
}

// A non-negative integer field.
absl::StatusOr<int64_t> Count(const json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return Damaged(path, absl::StrCat("no '", key, "'"));
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    return Damaged(path, absl::StrCat("'", key, "' is not a non-negative integer"));
  return it->get<int64_t>();
}

}  // namespace

json FilterProgress::ToJson() const {
  json dup = json::object();
  for (const auto& [line, first] : duplicates) dup[std::to_string(line)] = first;
  json size_json = json::object();
  for (const auto& [stem, size] : sizes) size_json[stem] = size;
  return json{{"settings", settings},         {"duplicates", dup},          {"shard_rows", shard_rows},
              {"outcome_rows", outcome_rows}, {"input_offset", input_offset}, {"next_line", next_line},
              {"rows_done", rows_done},       {"rejected", rejected},       {"sizes", size_json},
              {"done", done}};
}

absl::StatusOr<FilterProgress> FilterProgress::FromJson(const json& j, const std::string& path) {
  if (!j.is_object()) return Damaged(path, "not a JSON object");
  FilterProgress p;
  auto settings = j.find("settings");
  if (settings == j.end() || !settings->is_object()) return Damaged(path, "no 'settings' object");
  p.settings = *settings;
  struct Field {
    const char* key;
    int64_t* value;
  };
  for (Field f : {Field{"shard_rows", &p.shard_rows}, Field{"outcome_rows", &p.outcome_rows},
                  Field{"input_offset", &p.input_offset}, Field{"next_line", &p.next_line},
                  Field{"rows_done", &p.rows_done}, Field{"rejected", &p.rejected}}) {
    auto v = Count(j, f.key, path);
    if (!v.ok()) return v.status();
    *f.value = *v;
  }
  auto duplicates = j.find("duplicates");
  if (duplicates == j.end() || !duplicates->is_object()) return Damaged(path, "no 'duplicates' object");
  for (const auto& [line_text, first] : duplicates->items()) {
    int64_t line = 0;
    if (!absl::SimpleAtoi(line_text, &line) || line < 1 || !first.is_number_integer() || first.get<int64_t>() < 1 ||
        first.get<int64_t>() >= line)
      return Damaged(path, absl::StrCat("'duplicates' entry '", line_text, "' is not a later line's first line"));
    p.duplicates[line] = first.get<int64_t>();
  }
  auto sizes = j.find("sizes");
  if (sizes == j.end() || !sizes->is_object()) return Damaged(path, "no 'sizes' object");
  for (const auto& [stem, size] : sizes->items()) {
    if (!size.is_number_unsigned()) return Damaged(path, absl::StrCat("'sizes.", stem, "' is not a byte count"));
    p.sizes[stem] = size.get<uint64_t>();
  }
  auto done = j.find("done");
  if (done == j.end() || !done->is_boolean()) return Damaged(path, "no boolean 'done'");
  p.done = done->get<bool>();
  return p;
}

absl::StatusOr<FilterProgress> FilterProgress::Load(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<json> j = ParseJson(*text);
  if (!j.ok()) return Damaged(path, "not JSON: " + std::string(j.status().message()));
  return FromJson(*j, path);
}

absl::Status FilterProgress::Save(const std::string& path) const {
  return plugin::WriteFileAtomically(path, ToJson().dump(1));
}

}  // namespace sparsegate::offline
