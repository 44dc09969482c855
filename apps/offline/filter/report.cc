#include "apps/offline/filter/report.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "apps/offline/statistics/cluster_bootstrap.h"
#include "apps/offline/statistics/rank_statistics.h"
#include "trainer_plugin/policy/policy.h"
#include "trainer_plugin/predictor/quality.h"
#include "trainer_plugin/stats.h"

namespace sparsegate::offline {

using plugin::ScoredOutcome;
using plugin::QualitySummary;
using plugin::ZeroPassAuroc;
using plugin::ExpectedCalibrationError;
namespace {

using json = nlohmann::json;

constexpr int kBins = plugin::kCalibrationBins;

bool IsKnownDecision(const std::string& d) { return plugin::DecisionKindFromName(d).has_value(); }

// ---------------------------------------------------------------------------------------------
// Reading output rows.

absl::Status KeyError(std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("output row: \"", std::string(key), "\" ", std::string(problem)));
}

absl::Status TypeError(std::string_view key, std::string_view wanted, const json& got) {
  return KeyError(key, absl::StrCat("must be ", std::string(wanted), ", got ", got.type_name()));
}

absl::StatusOr<int32_t> ReadInt32(const json& value, std::string_view key) {
  if (!value.is_number_integer()) return TypeError(key, "an integer", value);
  const bool fits = value.is_number_unsigned()
                        ? value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())
                        : value.get<int64_t>() >= std::numeric_limits<int32_t>::min() &&
                              value.get<int64_t>() <= std::numeric_limits<int32_t>::max();
  if (!fits) return KeyError(key, "is out of range");
  return static_cast<int32_t>(value.get<int64_t>());
}

// ---------------------------------------------------------------------------------------------
// Statistics.

bool HasOutcome(const ReportRow& r) { return r.successes && r.trials && *r.trials >= 1; }

std::optional<double> Prediction(const ReportRow& r) {
  if (!r.predicted_pass_rate || !std::isfinite(*r.predicted_pass_rate)) return std::nullopt;
  return std::clamp(*r.predicted_pass_rate, 0.0, 1.0);
}

// The same binning as ExpectedCalibrationError, so the curve's bins are the ones ECE averages.
int BinOf(double p) { return plugin::CalibrationBinOf(p); }

json Ratio(int64_t part, int64_t whole) {
  return whole > 0 ? json(static_cast<double>(part) / static_cast<double>(whole)) : json(nullptr);
}

// 95% Wilson score interval: unlike p +- z*se it stays in [0, 1] and is not zero-width when a bin
// saw no success (or only successes). It pools the bin's trials as if independent draws of one
// rate, so with prompts of different difficulty in one bin the true uncertainty is wider.
std::pair<double, double> Wilson(int64_t successes, int64_t trials) {
  constexpr double z = 1.959963984540054;
  const double n = static_cast<double>(trials), p = static_cast<double>(successes) / n;
  const double denominator = 1 + z * z / n;
  const double center = (p + z * z / (2 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

json DistributionJson(std::vector<double> predictions, int64_t without_prediction) {
  std::vector<int64_t> histogram(kBins, 0);
  double sum = 0;
  for (double p : predictions) {
    ++histogram[BinOf(p)];
    sum += p;
  }
  json d = {{"rows", predictions.size()},
            {"without_prediction", without_prediction},
            {"histogram", histogram},
            {"min", nullptr},
            {"median", nullptr},
            {"mean", nullptr},
            {"max", nullptr}};
  if (predictions.empty()) return d;
  std::sort(predictions.begin(), predictions.end());
  const size_t n = predictions.size();
  d["min"] = predictions.front();
  d["max"] = predictions.back();
  d["median"] = n % 2 ? predictions[n / 2] : 0.5 * (predictions[n / 2 - 1] + predictions[n / 2]);
  d["mean"] = sum / static_cast<double>(n);
  return d;
}

// Each row's pass rate as the controls alone predict it: the observed rate of the training rows
// (outcomes not held out) with the same control values, or of all training rows when none match.
std::map<std::string, double> ControlRates(const std::vector<const ReportRow*>& training, double* overall) {
  std::map<std::string, std::pair<int64_t, int64_t>> counts;
  int64_t successes = 0, trials = 0;
  for (const ReportRow* r : training) {
    auto& c = counts[r->controls];
    c.first += *r->successes;
    c.second += *r->trials;
    successes += *r->successes;
    trials += *r->trials;
  }
  *overall = trials > 0 ? static_cast<double>(successes) / static_cast<double>(trials) : 0.5;
  std::map<std::string, double> rates;
  for (const auto& [label, c] : counts) rates[label] = static_cast<double>(c.first) / static_cast<double>(c.second);
  return rates;
}

// 95% bootstrap intervals over rows (each prompt its own cluster) of the predictor's AUROC, the
// baselines' and the paired differences.
json QualityIntervals(const std::vector<const ReportRow*>& scored, const std::vector<const ReportRow*>& training,
                      const ReportContext& context) {
  const size_t n = scored.size();
  std::vector<double> by_prediction(n), by_length(n), by_controls(n);
  std::vector<uint8_t> never(n);
  std::vector<int> cluster(n);
  bool all_lengths = true;
  double overall = 0;
  const std::map<std::string, double> rates = ControlRates(training, &overall);
  for (size_t i = 0; i < n; ++i) {
    const ReportRow& r = *scored[i];
    by_prediction[i] = 1 - *Prediction(r);
    all_lengths = all_lengths && r.token_count.has_value();
    by_length[i] = r.token_count.value_or(0);
    auto it = rates.find(r.controls);
    by_controls[i] = 1 - (it == rates.end() ? overall : it->second);
    never[i] = *r.successes == 0;
    cluster[i] = static_cast<int>(i);
  }
  auto statistic = [&never](std::vector<double> hardness) -> WeightedStatistic {
    auto ranking = std::make_shared<StratifiedRanking>(hardness);
    return [ranking, &never](const std::vector<double>& w) { return ranking->Auroc(never, w); };
  };
  std::vector<std::string> names = {"zero_pass_auroc"};
  std::vector<WeightedStatistic> stats = {statistic(by_prediction)};
  if (all_lengths) {
    stats.push_back(statistic(by_length));
    stats.push_back(Difference(stats[0], stats.back()));
    names.insert(names.end(), {"length_baseline_auroc", "auroc_minus_length"});
  }
  if (!context.control_fields.empty()) {
    stats.push_back(statistic(by_controls));
    stats.push_back(Difference(stats[0], stats.back()));
    names.insert(names.end(), {"controls_baseline_auroc", "auroc_minus_controls"});
  }
  const std::vector<Interval> intervals = ClusterBootstrap(cluster, context.bootstrap, context.seed, stats);
  json out = json::object();
  for (size_t k = 0; k < names.size(); ++k) out[names[k]] = IntervalToJson(intervals[k]);
  return out;
}

json QualityJson(const std::vector<const ReportRow*>& rows, const std::vector<const ReportRow*>& training,
                 const ReportContext& context) {
  std::vector<ScoredOutcome> outcomes, by_length;
  std::vector<const ReportRow*> scored;
  int64_t without_prediction = 0;
  struct Bin {
    int64_t groups = 0, successes = 0, trials = 0;
    double predicted_sum = 0;
  };
  std::array<Bin, kBins> bins{};
  std::map<std::string, std::pair<int64_t, int64_t>> never_by_decision;  // rows, never pass
  for (const ReportRow* r : rows) {
    auto& d = never_by_decision[r->decision];
    d.first += 1;
    d.second += *r->successes == 0;
    const std::optional<double> p = Prediction(*r);
    if (!p) {
      ++without_prediction;
      continue;
    }
    const int32_t trials = *r->trials, successes = std::clamp(*r->successes, 0, trials);
    outcomes.push_back({*p, successes, trials});
    scored.push_back(r);
    // Any decreasing function of the length ranks the same way; AUROC reads only the ranking.
    if (r->token_count) by_length.push_back({1.0 / (1.0 + *r->token_count), successes, trials});
    Bin& b = bins[BinOf(*p)];
    ++b.groups;
    b.successes += successes;
    b.trials += trials;
    b.predicted_sum += *p;
  }
  const QualitySummary s = Summarize(outcomes);
  json calibration = json::array();
  for (int i = 0; i < kBins; ++i) {
    const Bin& b = bins[i];
    if (b.groups == 0) continue;
    const auto [low, high] = Wilson(b.successes, b.trials);
    calibration.push_back({{"bin", i},
                           {"low", i / double{kBins}},
                           {"high", (i + 1) / double{kBins}},
                           {"groups", b.groups},
                           {"successes", b.successes},
                           {"trials", b.trials},
                           {"mean_predicted", b.predicted_sum / static_cast<double>(b.groups)},
                           {"observed_pass_rate", static_cast<double>(b.successes) / static_cast<double>(b.trials)},
                           {"wilson_low", low},
                           {"wilson_high", high}});
  }
  // The plugin's quality numbers, as its stats() give them, plus what only the report has.
  json quality = plugin::QualityToJson(s);
  if (s.groups == 0) quality["mean_predicted_pass_rate"] = quality["mean_observed_pass_rate"] = nullptr;
  quality["rows"] = rows.size();
  quality["without_prediction"] = without_prediction;
  quality["length_baseline_auroc"] =
      by_length.size() == outcomes.size() ? plugin::NumberOrNull(ZeroPassAuroc(by_length)) : json(nullptr);
  const json intervals = QualityIntervals(scored, training, context);
  quality["controls_baseline_auroc"] =
      intervals.contains("controls_baseline_auroc") ? intervals["controls_baseline_auroc"]["value"] : json(nullptr);
  quality["intervals"] = intervals;
  json never = json::object();
  for (const auto& [decision, c] : never_by_decision)
    never[decision] = {{"rows", c.first}, {"never_pass", c.second}, {"never_pass_share", Ratio(c.second, c.first)}};
  quality["never_pass_by_decision"] = never;
  quality["calibration"] = std::move(calibration);
  return quality;
}

}  // namespace

absl::StatusOr<ReportRow> ReportRowFromOutput(const json& row, const std::vector<std::string>& control_fields) {
  if (!row.is_object())
    return absl::InvalidArgumentError(absl::StrCat("output row must be an object, got ", row.type_name()));
  auto sg = row.find("sparsegate");
  if (sg == row.end()) return KeyError("sparsegate", "is missing");
  if (!sg->is_object()) return TypeError("sparsegate", "an object", *sg);

  ReportRow r;
  std::vector<std::string> controls;
  for (const std::string& field : control_fields) {
    auto it = row.find(field);
    controls.push_back(it == row.end() || it->is_null() ? "(missing)"
                       : it->is_string()                 ? it->get<std::string>()
                                                         : it->dump());
  }
  r.controls = absl::StrJoin(controls, " / ");
  auto decision = sg->find("decision");
  if (decision == sg->end()) return KeyError("sparsegate.decision", "is missing");
  if (!decision->is_string()) return TypeError("sparsegate.decision", "a string", *decision);
  r.decision = decision->get<std::string>();
  if (!IsKnownDecision(r.decision)) {
    return KeyError("sparsegate.decision",
                    absl::StrCat("must be keep, guide, drop or defer, got \"", r.decision, "\""));
  }

  auto predicted = sg->find("predicted_pass_rate");
  if (predicted == sg->end()) return KeyError("sparsegate.predicted_pass_rate", "is missing (null when none)");
  if (!predicted->is_null()) {
    if (!predicted->is_number()) return TypeError("sparsegate.predicted_pass_rate", "a number or null", *predicted);
    const double p = predicted->get<double>();
    if (!(p >= 0 && p <= 1))
      return KeyError("sparsegate.predicted_pass_rate", absl::StrCat("must be in [0, 1], got ", p));
    r.predicted_pass_rate = p;
  }

  auto source = sg->find("prediction_source");
  if (source != sg->end() && !source->is_null()) {
    if (!source->is_string()) return TypeError("sparsegate.prediction_source", "a string or null", *source);
    r.prediction_source = source->get<std::string>();
  }

  if (auto tokens = sg->find("token_count"); tokens != sg->end() && !tokens->is_null()) {
    if (!tokens->is_number_integer() || tokens->get<int64_t>() < 1 || tokens->get<int64_t>() > INT32_MAX)
      return TypeError("sparsegate.token_count", "a positive integer", *tokens);
    r.token_count = tokens->get<int32_t>();
  }

  if (auto truncated = sg->find("truncated"); truncated != sg->end() && !truncated->is_null()) {
    if (!truncated->is_boolean()) return TypeError("sparsegate.truncated", "a boolean", *truncated);
    r.truncated = truncated->get<bool>();
  }

  auto outcome = sg->find("outcome");
  if (outcome == sg->end() || outcome->is_null()) return r;
  if (!outcome->is_object()) return TypeError("sparsegate.outcome", "an object", *outcome);
  auto read = [&](const char* key, std::optional<int32_t>& out) -> absl::Status {
    const std::string name = absl::StrCat("sparsegate.outcome.", key);
    auto it = outcome->find(key);
    if (it == outcome->end()) return KeyError(name, "is missing");
    absl::StatusOr<int32_t> value = ReadInt32(*it, name);
    if (!value.ok()) return value.status();
    out = *value;
    return absl::OkStatus();
  };
  if (absl::Status s = read("successes", r.successes); !s.ok()) return s;
  if (absl::Status s = read("trials", r.trials); !s.ok()) return s;
  if (*r.trials < 1) return KeyError("sparsegate.outcome.trials", absl::StrCat("must be >= 1, got ", *r.trials));
  if (*r.successes < 0 || *r.successes > *r.trials) {
    return KeyError("sparsegate.outcome.successes",
                    absl::StrCat("must be in [0, trials = ", *r.trials, "], got ", *r.successes));
  }
  auto holdout = outcome->find("holdout");
  if (holdout != outcome->end() && !holdout->is_null()) {
    if (!holdout->is_boolean()) return TypeError("sparsegate.outcome.holdout", "a boolean", *holdout);
    r.holdout = holdout->get<bool>();
  }
  return r;
}

json BuildReport(const std::vector<ReportRow>& rows, const ReportContext& context) {
  // Fixed order first, so charts and tables line up from run to run; unknown names after, sorted.
  std::vector<std::string> names;
  for (int k = 0; k < plugin::kDecisionKindCount; ++k)
    names.emplace_back(plugin::DecisionKindName(static_cast<plugin::DecisionKind>(k)));
  std::set<std::string> extra;
  for (const ReportRow& r : rows) {
    if (!IsKnownDecision(r.decision)) extra.insert(r.decision);
  }
  names.insert(names.end(), extra.begin(), extra.end());

  const int64_t total = static_cast<int64_t>(rows.size());
  int64_t with_prediction = 0, with_outcome = 0;
  std::map<std::string, int64_t> sources;
  std::vector<const ReportRow*> held_out, in_sample, training;
  for (const ReportRow& r : rows) {
    if (Prediction(r)) {
      ++with_prediction;
      ++sources[r.prediction_source.empty() ? "none" : r.prediction_source];
    }
    if (HasOutcome(r)) {
      ++with_outcome;
      in_sample.push_back(&r);
      (r.holdout ? held_out : training).push_back(&r);
    }
  }

  json decisions = json::array();
  for (const std::string& name : names) {
    std::vector<double> predictions;
    int64_t count = 0, without = 0;
    for (const ReportRow& r : rows) {
      if (r.decision != name) continue;
      ++count;
      if (const std::optional<double> p = Prediction(r)) {
        predictions.push_back(*p);
      } else {
        ++without;
      }
    }
    decisions.push_back({{"decision", name},
                         {"rows", count},
                         {"share", Ratio(count, total)},
                         {"predicted_pass_rate", DistributionJson(std::move(predictions), without)}});
  }

  json edges = json::array();
  for (int i = 0; i <= kBins; ++i) edges.push_back(i / double{kBins});

  json report = {{"context",
                  {{"title", context.title},
                   {"model", context.model},
                   {"generated_at", context.generated_at},
                   {"settings", context.settings},
                   {"control_fields", context.control_fields}}},
                 {"rows",
                  {{"total", total},
                   {"rejected", context.rejected_rows},
                   {"rejected_share", Ratio(context.rejected_rows, total + context.rejected_rows)},
                   {"truncated", std::count_if(rows.begin(), rows.end(), [](const ReportRow& r) { return r.truncated; })},
                   {"with_prediction", with_prediction},
                   {"without_prediction", total - with_prediction},
                   {"with_outcome", with_outcome},
                   {"prediction_sources", sources}}},
                 {"bin_edges", std::move(edges)},
                 {"decisions", std::move(decisions)}};
  if (with_outcome > 0) {
    report["outcome"] = {
        {"rows", with_outcome}, {"held_out", QualityJson(held_out, training, context)},
        {"in_sample", QualityJson(in_sample, training, context)}};
  }
  return report;
}

}  // namespace sparsegate::offline
