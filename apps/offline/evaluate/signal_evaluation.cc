#include "apps/offline/evaluate/signal_evaluation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "apps/offline/statistics/cluster_bootstrap.h"
#include "apps/offline/statistics/rank_statistics.h"
#include "trainer_plugin/predictor/hidden_projection.h"
#include "trainer_plugin/stats.h"

namespace sparsegate::offline {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Model inputs.

struct ModelSpec {
  std::string name;
  std::string inputs;  // in words, for the report
  bool controls = false, metrics = false, probe = false, predictor = false;
};

// The probe's columns per row: the hidden vector, projected when it is wider than probe_dims.
std::vector<std::vector<float>> ProbeColumns(const SignalData& data, int probe_dims, uint64_t seed) {
  std::vector<std::vector<float>> out(data.rows());
  if (data.rows() == 0 || data.features[0].hidden.empty()) return out;
  const bool project = static_cast<int>(data.features[0].hidden.size()) > probe_dims;
  std::unique_ptr<plugin::HiddenProjection> projection;
  if (project) projection = std::make_unique<plugin::HiddenProjection>(probe_dims, seed, std::vector<int32_t>{});
  for (size_t i = 0; i < data.rows(); ++i) out[i] = project ? projection->Project(data.features[i].hidden) : data.features[i].hidden;
  return out;
}

// Control columns as model inputs: numeric values as they are, categories one-hot (every category
// its own column: the L2 penalty, not a dropped reference level, keeps the fit determined).
size_t ControlWidth(const SignalData& data) {
  size_t width = 0;
  for (const ControlColumn& c : data.controls) width += c.numeric ? 1 : c.categories.size();
  return width;
}

void AppendControls(const SignalData& data, size_t i, std::vector<double>* row) {
  for (const ControlColumn& c : data.controls) {
    if (c.numeric) {
      row->push_back(c.values[i]);
    } else {
      for (size_t k = 0; k < c.categories.size(); ++k) row->push_back(c.category_of_row[i] == static_cast<int>(k) ? 1 : 0);
    }
  }
}

std::vector<std::string> ControlColumnNames(const SignalData& data) {
  std::vector<std::string> names;
  for (const ControlColumn& c : data.controls) {
    if (c.numeric) {
      names.push_back("control/" + c.name);
    } else {
      for (const std::string& v : c.categories) names.push_back(absl::StrCat("control/", c.name, "=", v));
    }
  }
  return names;
}

OutcomeMatrix DesignMatrix(const SignalData& data, const ModelSpec& spec, const std::vector<std::vector<float>>& probe) {
  OutcomeMatrix m;
  m.successes = data.successes;
  m.trials = data.trials;
  m.group_of_row = data.group_of_row;
  std::vector<double> row;
  for (size_t i = 0; i < data.rows(); ++i) {
    row.clear();
    row.push_back(std::log(static_cast<double>(std::max(1, data.features[i].token_count))));
    if (spec.controls) AppendControls(data, i, &row);
    if (spec.metrics) row.insert(row.end(), data.features[i].metrics.begin(), data.features[i].metrics.end());
    if (spec.probe) row.insert(row.end(), probe[i].begin(), probe[i].end());
    m.dims = row.size();
    m.x.insert(m.x.end(), row.begin(), row.end());
  }
  return m;
}

// The plugin's predictor, cross-fitted: each fold's predictor observes the training groups (no
// holdout of its own: the fold is the holdout) and predicts the test fold.
absl::StatusOr<std::vector<double>> CrossFitPredictor(const SignalData& data, bool with_controls,
                                                      plugin::PredictorConfig config, const FoldAssignment& folds,
                                                      json* sources) {
  config.holdout_modulus = 0;
  plugin::FeatureSchema schema = data.schema;
  if (with_controls) {
    for (std::string& name : ControlColumnNames(data)) schema.columns.push_back(std::move(name));
  }
  std::vector<plugin::PromptFeatures> features = data.features;
  if (with_controls) {
    std::vector<double> extra;
    for (size_t i = 0; i < data.rows(); ++i) {
      extra.clear();
      AppendControls(data, i, &extra);
      features[i].metrics.insert(features[i].metrics.end(), extra.begin(), extra.end());
    }
  }
  // Encoding depends only on the schema and the configuration, so every fold shares one pass.
  auto encoder = plugin::PassRatePredictor::Create(schema, config);
  if (!encoder.ok()) return encoder.status();
  std::vector<plugin::EncodedPrompt> encoded;
  for (size_t i = 0; i < data.rows(); ++i) {
    auto e = encoder->Encode(features[i]);
    if (!e.ok()) return absl::InvalidArgumentError(absl::StrCat("row ", data.ids[i], ": ", e.status().message()));
    encoded.push_back(*std::move(e));
  }
  std::vector<double> predicted(data.rows(), 0.0);
  *sources = json::array();
  for (int k = 0; k < folds.folds; ++k) {
    auto predictor = plugin::PassRatePredictor::Create(schema, config);
    if (!predictor.ok()) return predictor.status();
    std::vector<std::string> ids;
    std::vector<plugin::EncodedPrompt> reference;
    for (size_t i = 0; i < data.rows(); ++i) {
      if (folds.fold_of_row[i] == k) continue;
      if (absl::Status s = predictor->Observe(data.ids[i], encoded[i], data.successes[i], data.trials[i]); !s.ok())
        return s;
      ids.push_back(data.ids[i]);
      reference.push_back(encoded[i]);
    }
    predictor->AddToReference(ids, reference);
    if (absl::Status s = predictor->Refit(); !s.ok()) return s;
    std::map<std::string, int> by_source;
    for (size_t i = 0; i < data.rows(); ++i) {
      if (folds.fold_of_row[i] != k) continue;
      plugin::Prediction p = predictor->Predict(encoded[i]);
      predicted[i] = p.pass_rate;
      by_source[p.source == plugin::PredictionSource::kSupervised ? "supervised" : "prior"] += 1;
    }
    sources->push_back(by_source);
  }
  return predicted;
}

// ---------------------------------------------------------------------------------------------
// Strata.

struct Family {
  std::string name;
  std::vector<int> stratum_of_row;
  std::vector<std::string> values;
  std::vector<uint8_t> eligible;
};

std::string FormatNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%g", v);
}

// A label per row for one control: its category, its value, or its quintile when a numeric
// control has too many values to stratify on each.
std::vector<std::string> ControlLabels(const ControlColumn& c, int max_numeric_strata) {
  std::vector<std::string> labels(c.numeric ? c.values.size() : c.category_of_row.size());
  if (!c.numeric) {
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = c.categories[c.category_of_row[i]];
    return labels;
  }
  std::set<double> distinct(c.values.begin(), c.values.end());
  if (static_cast<int>(distinct.size()) <= max_numeric_strata) {
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = FormatNumber(c.values[i]);
    return labels;
  }
  std::vector<double> sorted = c.values;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> edges;
  for (int q = 1; q < 5; ++q) edges.push_back(sorted[sorted.size() * q / 5]);
  for (size_t i = 0; i < labels.size(); ++i) {
    const int bin = static_cast<int>(std::upper_bound(edges.begin(), edges.end(), c.values[i]) - edges.begin());
    labels[i] = absl::StrCat("quintile ", bin + 1);
  }
  return labels;
}

Family MakeFamily(std::string name, const std::vector<std::string>& label_of_row, const SignalData& data,
                  const SignalOptions& options) {
  Family f;
  f.name = std::move(name);
  std::map<std::string, int> index;
  // Values in a stable order: numbers numerically when every label is one, else as text.
  std::vector<std::string> distinct(label_of_row.begin(), label_of_row.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  auto as_number = [](const std::string& s, double* v) {
    char* end = nullptr;
    *v = std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size();
  };
  bool numeric = true;
  for (const std::string& s : distinct) {
    double v;
    numeric = numeric && as_number(s, &v);
  }
  if (numeric) {
    std::sort(distinct.begin(), distinct.end(), [&](const std::string& a, const std::string& b) {
      double x, y;
      as_number(a, &x), as_number(b, &y);
      return x < y;
    });
  }
  for (const std::string& s : distinct) index.emplace(s, static_cast<int>(index.size()));
  f.values = distinct;
  for (const std::string& s : label_of_row) f.stratum_of_row.push_back(index.at(s));
  std::vector<int> rows(distinct.size()), zero(distinct.size());
  for (size_t i = 0; i < data.rows(); ++i) {
    rows[f.stratum_of_row[i]] += 1;
    zero[f.stratum_of_row[i]] += data.successes[i] == 0;
  }
  for (size_t s = 0; s < distinct.size(); ++s) {
    f.eligible.push_back(rows[s] >= options.min_stratum_rows && zero[s] >= options.min_stratum_class &&
                         rows[s] - zero[s] >= options.min_stratum_class);
  }
  return f;
}

std::vector<Family> Families(const SignalData& data, const SignalOptions& options) {
  std::vector<Family> out;
  const size_t n = data.rows();
  out.push_back(MakeFamily("overall", std::vector<std::string>(n, "all rows"), data, options));
  std::vector<std::vector<std::string>> control_labels;
  for (const ControlColumn& c : data.controls) {
    control_labels.push_back(ControlLabels(c, options.max_numeric_strata));
    out.push_back(MakeFamily(c.name, control_labels.back(), data, options));
  }
  std::vector<std::string> tokens(n);
  for (size_t i = 0; i < n; ++i) tokens[i] = absl::StrCat(data.features[i].token_count);
  out.push_back(MakeFamily("token_count", tokens, data, options));
  if (data.controls.empty()) return out;
  std::vector<std::string> names;
  for (const ControlColumn& c : data.controls) names.push_back(c.name);
  std::vector<std::string> all(n), all_tokens(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> parts;
    for (const auto& labels : control_labels) parts.push_back(labels[i]);
    all[i] = absl::StrJoin(parts, " / ");
    all_tokens[i] = absl::StrCat(all[i], " / ", tokens[i], " tokens");
  }
  if (data.controls.size() > 1) out.push_back(MakeFamily(absl::StrJoin(names, " x "), all, data, options));
  out.push_back(MakeFamily(absl::StrCat(absl::StrJoin(names, " x "), " x token_count"), all_tokens, data, options));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Statistics of one family.

struct Scored {
  std::string model;
  std::vector<double> predicted;
};

json FamilyResults(const Family& family, const std::vector<Scored>& models, const SignalData& data,
                   const SignalOptions& options) {
  const size_t n = data.rows();
  std::vector<uint8_t> never(n);
  std::vector<double> rate(n);
  for (size_t i = 0; i < n; ++i) {
    never[i] = data.successes[i] == 0;
    rate[i] = static_cast<double>(data.successes[i]) / data.trials[i];
  }
  auto observed = std::make_shared<StratifiedRanking>(rate, family.stratum_of_row);
  std::vector<std::shared_ptr<StratifiedRanking>> hardness, predicted;
  for (const Scored& m : models) {
    std::vector<double> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = 1 - m.predicted[i];  // higher = predicted harder
    hardness.push_back(std::make_shared<StratifiedRanking>(h, family.stratum_of_row));
    predicted.push_back(std::make_shared<StratifiedRanking>(m.predicted, family.stratum_of_row));
  }
  auto eligible = std::make_shared<std::vector<uint8_t>>(family.eligible);
  auto positive = std::make_shared<std::vector<uint8_t>>(never);
  std::vector<WeightedStatistic> auroc, spearman;
  for (size_t m = 0; m < models.size(); ++m) {
    auroc.push_back([r = hardness[m], positive, eligible](const std::vector<double>& w) {
      return r->Auroc(*positive, w, *eligible);
    });
    spearman.push_back([r = predicted[m], observed, eligible](const std::vector<double>& w) {
      return Spearman(*r, *observed, w, *eligible);
    });
  }
  auto index_of = [&](const std::string& name) -> std::optional<size_t> {
    for (size_t m = 0; m < models.size(); ++m)
      if (models[m].model == name) return m;
    return std::nullopt;
  };
  const std::optional<size_t> length = index_of("length"), controls = index_of("controls");
  std::vector<WeightedStatistic> all = auroc;
  all.insert(all.end(), spearman.begin(), spearman.end());
  const size_t M = models.size();
  std::vector<std::pair<size_t, std::string>> differences;  // (model, against) in `all` order after 2M
  for (size_t m = 0; m < M; ++m) {
    for (auto [base, name] : {std::pair{length, "length"}, std::pair{controls, "controls"}}) {
      if (!base || *base == m) continue;
      all.push_back(Difference(auroc[m], auroc[*base]));
      all.push_back(Difference(spearman[m], spearman[*base]));
      differences.emplace_back(m, name);
    }
  }
  std::vector<Interval> intervals = ClusterBootstrap(data.group_of_row, options.bootstrap, options.seed, all);

  json results = json::array();
  std::vector<double> unit(n, 1.0);
  for (size_t m = 0; m < M; ++m) {
    json r = {{"model", models[m].model}, {"auroc", IntervalToJson(intervals[m])},
              {"spearman", IntervalToJson(intervals[M + m])}};
    for (size_t d = 0; d < differences.size(); ++d) {
      if (differences[d].first != m) continue;
      r["auroc_vs_" + differences[d].second] = IntervalToJson(intervals[2 * M + 2 * d]);
      r["spearman_vs_" + differences[d].second] = IntervalToJson(intervals[2 * M + 2 * d + 1]);
    }
    if (family.values.size() > 1) {
      json per = json::array();
      for (size_t s = 0; s < family.values.size(); ++s) {
        if (!family.eligible[s]) {
          per.push_back(nullptr);
          continue;
        }
        std::vector<uint8_t> only(family.values.size(), 0);
        only[s] = 1;
        per.push_back(plugin::NumberOrNull(hardness[m]->Auroc(never, unit, only)));
      }
      r["per_stratum_auroc"] = per;
    }
    results.push_back(r);
  }

  json strata = json::array();
  int eligible_count = 0, too_small = 0, eligible_rows = 0;
  std::vector<int> rows(family.values.size()), zero(family.values.size());
  for (size_t i = 0; i < n; ++i) {
    rows[family.stratum_of_row[i]] += 1;
    zero[family.stratum_of_row[i]] += never[i];
  }
  for (size_t s = 0; s < family.values.size(); ++s) {
    strata.push_back({{"value", family.values[s]}, {"rows", rows[s]}, {"zero_pass", zero[s]},
                      {"eligible", static_cast<bool>(family.eligible[s])}});
    if (family.eligible[s]) {
      ++eligible_count;
      eligible_rows += rows[s];
    } else {
      ++too_small;
    }
  }
  return {{"family", family.name}, {"strata", strata}, {"eligible_strata", eligible_count},
          {"eligible_rows", eligible_rows}, {"too_small", too_small}, {"results", results}};
}

const json* ResultOf(const json& family, const std::string& model) {
  for (const json& r : family["results"])
    if (r["model"] == model) return &r;
  return nullptr;
}

std::string Signed(const json& v) { return v.is_null() ? "n/a" : absl::StrFormat("%+.3f", v.get<double>()); }
std::string Plain(const json& v) { return v.is_null() ? "n/a" : absl::StrFormat("%.3f", v.get<double>()); }

json Headline(const json& families, const SignalData& data) {
  const json& overall = families[0];
  const bool has_controls = !data.controls.empty();
  const std::string baseline = has_controls ? "controls" : "length";
  std::vector<std::string> control_names;
  for (const ControlColumn& c : data.controls) control_names.push_back(c.name);
  const std::string beyond = has_controls ? absl::StrCat(absl::StrJoin(control_names, ", "), " and length") : "length";
  json comparisons = json::array();
  std::vector<std::string> clauses;
  for (auto [model, words] : {std::pair{"metrics", "the sparsity metrics change"},
                              std::pair{"probe", "the hidden-state probe changes"}}) {
    const std::string name = has_controls ? absl::StrCat("controls+", model) : std::string(model);
    const json* r = ResultOf(overall, name);
    if (!r) continue;
    const json& d = (*r)["auroc_vs_" + baseline];
    const std::string verdict = Verdict(d);
    comparisons.push_back({{"model", name}, {"baseline", baseline}, {"auroc_difference", d}, {"verdict", verdict}});
    clauses.push_back(absl::StrFormat("%s it by %s (95%% CI %s to %s): %s", words, Signed(d["value"]),
                                      Signed(d["low"]), Signed(d["high"]), verdict));
  }
  const json* base = ResultOf(overall, baseline);
  std::string sentence = absl::StrCat(
      "Beyond ", beyond, " (AUROC for never passing ", base ? Plain((*base)["auroc"]["value"]) : "n/a", "), ",
      absl::StrJoin(clauses, "; "), ".");
  return {{"sentence", sentence}, {"baseline", baseline}, {"comparisons", comparisons}};
}

}  // namespace

std::string Verdict(const json& d) {
  if (d["low"].is_null() || d["high"].is_null()) return "undefined";
  if (d["low"].get<double>() > 0) return "they add";
  if (d["high"].get<double>() < 0) return "they make it worse";
  return "nothing detectable";
}

absl::StatusOr<json> EvaluateSignal(const SignalData& data, const SignalOptions& options) {
  const size_t n = data.rows();
  if (data.group_of_row.size() != n || data.successes.size() != n || data.trials.size() != n || data.features.size() != n)
    return absl::InvalidArgumentError("evaluate: ids, groups, outcomes and features disagree in length");
  for (const ControlColumn& c : data.controls) {
    if ((c.numeric ? c.values.size() : c.category_of_row.size()) != n)
      return absl::InvalidArgumentError(absl::StrCat("evaluate: control '", c.name, "' has the wrong number of rows"));
  }
  int64_t zero_pass = 0;
  int32_t min_trials = n ? data.trials[0] : 0, max_trials = min_trials;
  for (size_t i = 0; i < n; ++i) {
    zero_pass += data.successes[i] == 0;
    min_trials = std::min(min_trials, data.trials[i]);
    max_trials = std::max(max_trials, data.trials[i]);
  }
  const FoldAssignment folds = GroupedFolds(data.group_of_row, options.folds, options.seed);
  if (folds.folds < 2) return absl::InvalidArgumentError("evaluate: fewer than 2 groups with outcomes, nothing to hold out");
  const bool has_hidden = n > 0 && !data.features[0].hidden.empty();
  for (size_t i = 0; i < n; ++i) {
    if (data.features[i].hidden.empty() == has_hidden)
      return absl::InvalidArgumentError(absl::StrCat("evaluate: row ", data.ids[i], " has ",
                                                     has_hidden ? "no hidden vector" : "a hidden vector",
                                                     " and the first row does not"));
  }
  const bool has_controls = !data.controls.empty();

  std::vector<ModelSpec> specs = {{"length", "log(token count)"}};
  if (has_controls) specs.push_back({"controls", "controls + length", true});
  specs.push_back({"metrics", "sparsity metrics + length", false, true});
  if (has_hidden) specs.push_back({"probe", "hidden-state probe + length", false, false, true});
  if (has_controls) specs.push_back({"controls+metrics", "controls + sparsity metrics + length", true, true});
  if (has_controls && has_hidden) specs.push_back({"controls+probe", "controls + hidden-state probe + length", true, false, true});
  if (options.predictor) {
    specs.push_back({"predictor", "the plugin's predictor as configured", false, false, false, true});
    if (has_controls) specs.push_back({"predictor+controls", "the plugin's predictor with the controls as inputs", true, false, false, true});
  }

  const std::vector<std::vector<float>> probe = has_hidden ? ProbeColumns(data, options.probe_dims, options.seed ^ 0x9e3779b97f4a7c15ULL)
                                                           : std::vector<std::vector<float>>(n);
  std::vector<Scored> scored;
  json models = json::array();
  for (const ModelSpec& spec : specs) {
    json entry = {{"name", spec.name}, {"inputs", spec.inputs}};
    if (spec.predictor) {
      json sources;
      auto predicted = CrossFitPredictor(data, spec.controls, *options.predictor, folds, &sources);
      if (!predicted.ok()) return predicted.status();
      entry["prediction_sources_per_fold"] = sources;
      scored.push_back({spec.name, *std::move(predicted)});
    } else {
      const OutcomeMatrix m = DesignMatrix(data, spec, probe);
      auto fit = CrossFitLogistic(m, folds, options.fit);
      if (!fit.ok()) return fit.status();
      entry["columns"] = m.dims;
      entry["l2_per_fold"] = fit->l2_per_fold;
      scored.push_back({spec.name, std::move(fit->predicted)});
    }
    models.push_back(entry);
  }

  json families = json::array();
  for (const Family& family : Families(data, options)) families.push_back(FamilyResults(family, scored, data, options));
  json controls = json::array();
  for (const ControlColumn& c : data.controls) {
    controls.push_back({{"name", c.name}, {"kind", c.numeric ? "numeric" : "categorical"},
                        {"values", c.numeric ? json(nullptr) : json(c.categories)}});
  }
  std::set<int> groups(data.group_of_row.begin(), data.group_of_row.end());
  json out = {
      {"rows", {{"evaluated", n}, {"groups", groups.size()}, {"zero_pass", zero_pass},
                {"trials", {{"min", min_trials}, {"max", max_trials}}}}},
      {"settings", {{"folds", folds.folds}, {"bootstrap", options.bootstrap}, {"seed", options.seed},
                    {"min_stratum_rows", options.min_stratum_rows}, {"min_stratum_class", options.min_stratum_class},
                    {"probe_dims", options.probe_dims}, {"l2_grid", options.fit.l2_grid},
                    {"inner_folds", options.fit.inner_folds}, {"controls", controls},
                    {"feature_columns", data.schema.columns.size()},
                    {"hidden_size", has_hidden ? data.features[0].hidden.size() : 0}}},
      {"models", models},
      {"families", families},
  };
  out["headline"] = Headline(families, data);
  return out;
}

}  // namespace sparsegate::offline
