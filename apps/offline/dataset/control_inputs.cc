#include "apps/offline/dataset/control_inputs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "apps/offline/dataset/jsonl_rows.h"

namespace sparsegate::offline {
namespace {

std::string CategoryOf(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

absl::StatusOr<ControlInputs> ControlInputs::Scan(const std::string& input_path, const std::vector<std::string>& fields) {
  std::ifstream in(input_path);
  if (!in) return absl::NotFoundError(absl::StrCat(input_path, ": cannot open"));
  std::vector<std::set<std::string>> categories(fields.size());
  ControlInputs out;
  for (const std::string& f : fields) out.fields_.push_back({f});
  JsonlReader reader(in);
  std::vector<int64_t> missing(fields.size(), 0), first_missing(fields.size(), 0);
  int64_t rows = 0;
  while (std::optional<JsonlRow> row = reader.Next()) {
    if (!row->error.empty() || !row->value.is_object()) continue;
    ++rows;
    for (size_t k = 0; k < fields.size(); ++k) {
      auto it = row->value.find(fields[k]);
      if (it == row->value.end() || it->is_null()) {
        if (missing[k]++ == 0) first_missing[k] = row->line;
        continue;
      }
      if (!it->is_number() && !it->is_string() && !it->is_boolean())
        return absl::InvalidArgumentError(absl::StrCat(input_path, ":", row->line, ": control field '", fields[k],
                                                       "' is not a number, string or boolean"));
      out.fields_[k].numeric = out.fields_[k].numeric && it->is_number();
      categories[k].insert(CategoryOf(*it));
    }
  }
  for (size_t k = 0; k < fields.size(); ++k) {
    if (rows > 0 && missing[k] == rows)  // a misspelt --control, most likely
      return absl::InvalidArgumentError(absl::StrCat(input_path, ": control field '", fields[k], "' is on no row"));
    if (missing[k] > 0)
      spdlog::warn("{}: control field '{}' is missing or null on {} of {} rows (first on line {}); those rows get "
                   "{} for it", input_path, fields[k], missing[k], rows, first_missing[k],
                   out.fields_[k].numeric ? "0" : "no category");
    if (!out.fields_[k].numeric) out.fields_[k].categories.assign(categories[k].begin(), categories[k].end());
  }
  return out;
}

plugin::FeatureSchema ControlInputs::Extend(const plugin::FeatureSchema& schema) const {
  plugin::FeatureSchema out = schema;
  for (const Field& f : fields_) {
    if (f.numeric) {
      out.columns.push_back("control/" + f.name);
    } else {
      for (const std::string& c : f.categories) out.columns.push_back(absl::StrCat("control/", f.name, "=", c));
    }
  }
  return out;
}

void ControlInputs::Append(const nlohmann::json& row, plugin::PromptFeatures* features) const {
  if (features->metrics.empty()) return;
  for (const Field& f : fields_) {
    auto it = row.is_object() ? row.find(f.name) : row.end();
    const bool present = row.is_object() && it != row.end() && !it->is_null();
    if (f.numeric) {
      features->metrics.push_back(present && it->is_number() ? it->get<float>() : 0.0f);
      continue;
    }
    const std::string value = present ? CategoryOf(*it) : std::string();
    for (const std::string& c : f.categories) features->metrics.push_back(present && c == value ? 1.0f : 0.0f);
  }
}

}  // namespace sparsegate::offline
