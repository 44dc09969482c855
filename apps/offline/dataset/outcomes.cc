#include "apps/offline/dataset/outcomes.h"

#include <fstream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "apps/offline/dataset/jsonl_rows.h"

namespace sparsegate::offline {

using nlohmann::json;

std::optional<std::string> IdText(const json& id) {
  if (id.is_string() && !id.get<std::string>().empty()) return id.get<std::string>();
  if (id.is_number_integer()) return std::to_string(id.get<int64_t>());
  return std::nullopt;
}

absl::StatusOr<Outcome> OutcomeFrom(const json& successes, const json& trials) {
  auto in_range = [](const json& v) {
    return v.is_number_integer() && (v.is_number_unsigned() ? v.get<uint64_t>() <= std::numeric_limits<int32_t>::max()
                                                            : v.get<int64_t>() >= 0 &&
                                                                  v.get<int64_t>() <= std::numeric_limits<int32_t>::max());
  };
  if (!in_range(successes) || !in_range(trials))
    return absl::InvalidArgumentError(absl::StrCat("'successes' and 'trials' must be non-negative integers, got ",
                                                   successes.dump(), " and ", trials.dump()));
  Outcome o{static_cast<int32_t>(successes.get<int64_t>()), static_cast<int32_t>(trials.get<int64_t>())};
  if (o.trials < 1 || o.successes > o.trials)
    return absl::InvalidArgumentError(
        absl::StrCat("need 0 <= successes <= trials and trials >= 1, got ", o.successes, " of ", o.trials));
  return o;
}

absl::StatusOr<std::map<std::string, Outcome>> LoadOutcomes(const std::string& path) {
  std::map<std::string, Outcome> outcomes;
  if (path.empty()) return outcomes;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the outcomes file"));
  JsonlReader reader(in);
  while (std::optional<JsonlRow> row = reader.Next()) {
    auto fail = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", row->line, ": ", why));
    };
    if (!row->error.empty()) return fail(row->error);
    const json& v = row->value;
    if (!v.is_object()) return fail("row is not a JSON object");
    auto id = v.find("id");
    const std::optional<std::string> key = id == v.end() ? std::nullopt : IdText(*id);
    if (!key) return fail("needs an 'id' (non-empty string or integer)");
    auto s = v.find("successes"), t = v.find("trials");
    if (s == v.end() || t == v.end()) return fail("needs integer 'successes' and 'trials'");
    auto o = OutcomeFrom(*s, *t);
    if (!o.ok()) return fail(std::string(o.status().message()));
    if (!outcomes.emplace(*key, *o).second) return fail(absl::StrCat("id '", *key, "' is listed twice"));
  }
  return outcomes;
}

}  // namespace sparsegate::offline
