// Checkpoints: a restarted trainer decides exactly as one that never stopped; saving what was
// loaded gives the same bytes; a truncated, corrupted, foreign or mismatched file is refused with
// an error naming the file, and the plugin keeps its state.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_format.h"
#include "difficulty_service/core/common/files.h"
#include "nlohmann/json.hpp"
#include "tests/plugin/trainer_sim.h"
#include "trainer_plugin/stable_hash.h"
#include "trainer_plugin/state/atomic_file.h"
#include "trainer_plugin/state/plugin_checkpoint.h"

namespace sparsegate::plugin {
namespace {

namespace fs = std::filesystem;
using testing::Describe;
using testing::MakePlugin;
using testing::TempDir;
using testing::TrainerSim;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

constexpr int kSteps = 30;
constexpr int kSaveAt = 15;

TEST(PluginCheckpoint, RestartedTrainerDecidesIdentically) {
  TempDir dir;
  TrainerSim sim;

  // A: never stops.
  std::unique_ptr<TrainerPlugin> a = MakePlugin();
  std::vector<std::vector<std::string>> expected;
  for (int step = 0; step < kSteps; ++step) expected.push_back(Describe(sim.Step(*a, step)));

  // B: stops after deciding step kSaveAt, before observing it (so features awaiting their
  // outcomes are in the checkpoint too); C resumes from B's checkpoint in a fresh plugin.
  std::unique_ptr<TrainerPlugin> b = MakePlugin();
  for (int step = 0; step < kSaveAt; ++step) ASSERT_EQ(Describe(sim.Step(*b, step)), expected[step]) << step;
  const std::vector<Decision> pending = sim.Decide(*b, kSaveAt);
  ASSERT_EQ(Describe(pending), expected[kSaveAt]);
  const std::string path = dir.File("plugin.ckpt.json");
  ASSERT_TRUE(b->Save(path).ok());
  b.reset();

  std::unique_ptr<TrainerPlugin> c = MakePlugin();
  absl::Status loaded = c->Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded;
  sim.ObserveAll(*c, kSaveAt, pending);
  for (int step = kSaveAt + 1; step < kSteps; ++step) {
    EXPECT_EQ(Describe(sim.Step(*c, step)), expected[step]) << "step " << step;
  }
  EXPECT_EQ(c->StatsJson(), a->StatsJson());

  // The run exercised what it should: guidance, drops, fail-open, the supervised model.
  const PluginStats stats = a->Stats();
  std::printf("%s\n", a->StatsJson().dump(2).c_str());
  EXPECT_GT(stats.counters.decisions[static_cast<int>(DecisionKind::kGuide)], 0);
  EXPECT_GT(stats.counters.decisions[static_cast<int>(DecisionKind::kDrop)], 0);
  EXPECT_GT(stats.counters.fail_open_decisions, 0);
  EXPECT_EQ(stats.predictor.active, PredictionSource::kSupervised);
}

TEST(PluginCheckpoint, SavingWhatWasLoadedGivesTheSameBytes) {
  TempDir dir;
  TrainerSim sim;
  std::unique_ptr<TrainerPlugin> a = MakePlugin();
  for (int step = 0; step < 12; ++step) sim.Step(*a, step);
  sim.Decide(*a, 12);  // leave some prompts pending
  ASSERT_TRUE(a->Save(dir.File("first.json")).ok());
  std::unique_ptr<TrainerPlugin> b = MakePlugin();
  ASSERT_TRUE(b->Load(dir.File("first.json")).ok());
  ASSERT_TRUE(b->Save(dir.File("second.json")).ok());
  const std::string first = ReadAll(dir.File("first.json"));
  EXPECT_GT(first.size(), 1000u);
  EXPECT_EQ(first, ReadAll(dir.File("second.json")));
  // No temporary files are left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(fs::path(dir.File("")))) ++files;
  EXPECT_EQ(files, 2);
}

// A snapshot in memory is the checkpoint without the file: a plugin restored from it saves the
// same bytes as the one it was taken from and decides as it would (the offline filter restores
// its calibrated plugin this way before every batch).
TEST(PluginCheckpoint, ASnapshotRestoresWhatTheFileWould) {
  TempDir dir;
  TrainerSim sim;
  std::unique_ptr<TrainerPlugin> a = MakePlugin();
  for (int step = 0; step < 12; ++step) sim.Step(*a, step);
  sim.Decide(*a, 12);
  ASSERT_TRUE(a->Save(dir.File("saved.json")).ok());
  std::unique_ptr<TrainerPlugin> b = MakePlugin();
  ASSERT_TRUE(b->Restore(a->Snapshot()).ok());
  ASSERT_TRUE(b->Save(dir.File("restored.json")).ok());
  EXPECT_EQ(ReadAll(dir.File("saved.json")), ReadAll(dir.File("restored.json")));
  std::unique_ptr<TrainerPlugin> c = MakePlugin();
  ASSERT_TRUE(c->Load(dir.File("saved.json")).ok());
  EXPECT_EQ(Describe(sim.Decide(*b, 13)), Describe(sim.Decide(*c, 13)));
  // A snapshot of another plugin is refused with Load's checks, naming the snapshot.
  PluginCheckpoint other = a->Snapshot();
  other.ladder_rungs += 1;
  const absl::Status refused = b->Restore(other, "the calibrated plugin");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("the calibrated plugin does not fit this plugin"), std::string::npos) << refused;
}

class BadPluginCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = MakePlugin();
    twin_ = MakePlugin();
    for (int step = 0; step < 8; ++step) {
      sim_.Step(*plugin_, step);
      sim_.Step(*twin_, step);
    }
    good_ = dir_.File("good.json");
    ASSERT_TRUE(plugin_->Save(good_).ok());
    text_ = ReadAll(good_);
  }

  // Loading `contents` fails with `code` and a message holding the file's path and `fragment`,
  // and leaves the plugin deciding exactly like its twin.
  void ExpectRefused(const std::string& contents, absl::StatusCode code, const std::string& fragment) {
    const std::string path = dir_.File("bad.json");
    WriteAll(path, contents);
    const absl::Status status = plugin_->Load(path);
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_NE(status.message().find(path), std::string::npos) << status;
    EXPECT_NE(status.message().find(fragment), std::string::npos) << status;
    const int step = next_step_++;
    EXPECT_EQ(Describe(sim_.Step(*plugin_, step)), Describe(sim_.Step(*twin_, step)));
  }

  TempDir dir_;
  TrainerSim sim_;
  std::unique_ptr<TrainerPlugin> plugin_, twin_;
  std::string good_, text_;
  int next_step_ = 8;
};

TEST_F(BadPluginCheckpoint, Truncated) {
  ExpectRefused(text_.substr(0, text_.size() / 2), absl::StatusCode::kDataLoss, "not valid JSON");
  ExpectRefused("", absl::StatusCode::kDataLoss, "not valid JSON");
}

TEST_F(BadPluginCheckpoint, UnparseableNumberOrDepthIsRefusedNotAborted) {
  std::string overflowing = text_;
  overflowing.insert(1, "\"x\": 1e400, ");
  ExpectRefused(overflowing, absl::StatusCode::kDataLoss, "number overflow");
  ExpectRefused(std::string(100000, '[') + std::string(100000, ']'), absl::StatusCode::kDataLoss,
                "nested deeper than 512 levels");
}

TEST_F(BadPluginCheckpoint, CorruptedButStillJson) {
  // Change one digit inside the state: still JSON, but the checksum no longer matches.
  std::string corrupted = text_;
  const size_t at = corrupted.find("\"epoch\":");
  ASSERT_NE(at, std::string::npos);
  const size_t digit = at + 8;
  corrupted[digit] = corrupted[digit] == '7' ? '8' : '7';
  ExpectRefused(corrupted, absl::StatusCode::kDataLoss, "checksum");
}

TEST_F(BadPluginCheckpoint, ForeignOrNewerFile) {
  ExpectRefused("{\"hello\": 1}", absl::StatusCode::kInvalidArgument, "not a sparsegate trainer plugin checkpoint");
  nlohmann::json doc = nlohmann::json::parse(text_);
  doc["version"] = 2;
  ExpectRefused(doc.dump(), absl::StatusCode::kFailedPrecondition, "version 2");
}

TEST_F(BadPluginCheckpoint, MissingFieldIsNamed) {
  nlohmann::json doc = nlohmann::json::parse(text_);
  doc["state"]["policy"].erase("epoch");
  doc["checksum"] = absl::StrFormat("fnv1a64:%016x", StableHash64(doc["state"].dump()));
  ExpectRefused(doc.dump(), absl::StatusCode::kInvalidArgument, "state.policy has no field 'epoch'");

  doc = nlohmann::json::parse(text_);
  doc["state"]["counters"]["observed_groups"] = "many";
  doc["checksum"] = absl::StrFormat("fnv1a64:%016x", StableHash64(doc["state"].dump()));
  ExpectRefused(doc.dump(), absl::StatusCode::kInvalidArgument, "state.counters.observed_groups is not an integer");
}

TEST_F(BadPluginCheckpoint, ImpossibleCountsAreRefusedThoughTheChecksumHolds) {
  // Each used to load (the checksum was the only check), and int64-maximum trials overflowed on
  // the next observe.
  const nlohmann::json good = nlohmann::json::parse(text_);
  ASSERT_FALSE(good["state"]["policy"]["prompts"].empty());
  const std::string id = good["state"]["policy"]["prompts"].begin().key();
  const std::string at = "state.policy.prompts[\"" + id + "\"].";
  struct Edit {
    std::function<void(nlohmann::json&)> apply;
    std::string fragment;
  };
  const std::vector<Edit> edits = {
      {[&](nlohmann::json& s) { s["policy"]["prompts"][id]["trials"] = -4; }, at + "trials is -4, outside [0, 2^50]"},
      {[&](nlohmann::json& s) {
         s["policy"]["prompts"][id]["successes"] = 9;
         s["policy"]["prompts"][id]["trials"] = 8;
       },
       at + "successes is 9, more than its trials (8)"},
      {[&](nlohmann::json& s) { s["policy"]["prompts"][id]["trials"] = INT64_MAX; }, at + "trials is 9223372036854775807"},
      {[&](nlohmann::json& s) { s["policy"]["prompts"][id]["hint_level"] = 7; }, at + "hint_level is 7, past the ladder's"},
      {[&](nlohmann::json& s) { s["counters"]["observed_groups"] = -1; }, "state.counters.observed_groups is -1"},
      {[&](nlohmann::json& s) { s["policy"]["epoch"] = -3; }, "state.policy.epoch is -3"},
  };
  for (const Edit& edit : edits) {
    nlohmann::json doc = good;
    edit.apply(doc["state"]);
    doc["checksum"] = absl::StrFormat("fnv1a64:%016x", StableHash64(doc["state"].dump()));
    ExpectRefused(doc.dump(), absl::StatusCode::kInvalidArgument, edit.fragment);
  }
}

TEST_F(BadPluginCheckpoint, AFifoOrADeviceIsRefusedNotWaitedOn) {
  const std::string fifo = dir_.File("fifo.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  absl::Status status = plugin_->Load(fifo);  // used to block forever
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("a FIFO, not a regular file"), std::string::npos) << status;
  status = plugin_->Load("/dev/zero");  // used to grow until memory ran out
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("/dev/zero: a character device"), std::string::npos) << status;
}

TEST_F(BadPluginCheckpoint, MissingFile) {
  const std::string path = dir_.File("nowhere.json");
  const absl::Status status = plugin_->Load(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
}

TEST_F(BadPluginCheckpoint, WrittenForADifferentPlugin) {
  absl::StatusOr<std::unique_ptr<TrainerPlugin>> other =
      TrainerPlugin::Create(FeatureSchema::ForFeatureSets({"layer9/mean"}), testing::FastLearningConfig());
  ASSERT_TRUE(other.ok());
  absl::Status status = (*other)->Load(good_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("feature schema"), std::string::npos) << status;

  PluginConfig four_rungs = testing::FastLearningConfig();
  four_rungs.policy.hint_ladder = {0.2, 0.4, 0.6, 0.8};
  four_rungs.policy.start_rung_below = {0.1, 0.05, 0.02, 0.01};
  status = MakePlugin(four_rungs)->Load(good_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("3-rung ladder"), std::string::npos) << status;
}

TEST(AtomicFile, ReplacesWholeFilesAndNamesFailures) {
  TempDir dir;
  const std::string path = dir.File("x.json");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second, longer").ok());
  EXPECT_EQ(*sparsegate::ReadFile(path), "second, longer");
  const absl::Status status = WriteFileAtomically(dir.File("no/such/dir/x.json"), "x");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no/such/dir"), std::string::npos) << status;
}

}  // namespace
}  // namespace sparsegate::plugin
