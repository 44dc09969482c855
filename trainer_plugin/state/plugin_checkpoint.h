// One checkpoint file holds everything the plugin learned: the predictor (its outcome window,
// reference set and fitted model), the policy (epoch and every prompt's history, rung and
// quarantine), the running counters, and the encoded features of prompts decided but not yet
// observed. A trainer restarted from it makes exactly the decisions it would have made without
// the restart.
//
// The file is JSON (nlohmann):
//   {"format": "sparsegate.trainer_plugin.checkpoint", "version": 1,
//    "checksum": "fnv1a64:<16 hex>", "state": {...}}
// The checksum covers the compact serialisation of "state", so a file corrupted in a way that
// still parses is refused too. Numbers are written with round-trip precision and objects with
// sorted keys, so saving what was loaded gives the same bytes.
//
// Loading is all-or-nothing: the whole file is parsed and checked into a fresh PluginCheckpoint,
// and any problem (unreadable, truncated, not JSON, wrong format or version, checksum mismatch, a
// missing or mistyped field) is an error naming the file and, for fields, where in the state the
// problem is. The caller's state is untouched.
#ifndef SPARSEGATE_TRAINER_PLUGIN_STATE_PLUGIN_CHECKPOINT_H_
#define SPARSEGATE_TRAINER_PLUGIN_STATE_PLUGIN_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "trainer_plugin/features.h"
#include "trainer_plugin/policy/policy.h"
#include "trainer_plugin/policy/rollout_cost.h"
#include "trainer_plugin/predictor/predictor.h"
#include "trainer_plugin/stats.h"

namespace sparsegate::plugin {

constexpr int kCheckpointVersion = 1;
inline constexpr char kCheckpointFormat[] = "sparsegate.trainer_plugin.checkpoint";

// A prompt decided (KEEP or GUIDE) and not yet observed: what its outcome is learned and scored
// against.
struct PendingDecision {
  EncodedPrompt features;
  // The expected pass rate the decision was made with, for the forward quality (stats.h); absent
  // in checkpoints written before it was kept.
  std::optional<double> expected_pass_rate;
};

struct PluginCheckpoint {
  FeatureSchema schema;
  // The settings that give the state its meaning; a plugin configured differently refuses it.
  int32_t ladder_rungs = 0;
  int32_t hidden_probe_dims = 0;
  uint64_t hidden_projection_seed = 0;

  PredictorState predictor;
  PolicyState policy;
  PluginCounters counters;
  std::map<std::string, PendingDecision> pending;  // decided, awaiting Observe
  RolloutCostState rollout_cost;
};

std::string SerializeCheckpoint(const PluginCheckpoint& checkpoint);
// `source` names the file in error messages.
absl::StatusOr<PluginCheckpoint> ParseCheckpoint(std::string_view text, const std::string& source);

absl::Status SaveCheckpoint(const std::string& path, const PluginCheckpoint& checkpoint);
absl::StatusOr<PluginCheckpoint> LoadCheckpoint(const std::string& path);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_STATE_PLUGIN_CHECKPOINT_H_
