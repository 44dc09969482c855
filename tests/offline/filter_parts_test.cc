// The filter job's parts: the progress record (every field checked, a damaged file named), the
// output set (cut back to recorded sizes, sizes counted) and the output directory lock (held
// while alive, released after).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "apps/offline/filter/filter_outputs.h"
#include "apps/offline/filter/filter_progress.h"

namespace sparsegate::offline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("sparsegate-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

FilterProgress Sample() {
  FilterProgress p;
  p.settings = {{"input", "/data/x.jsonl"}};
  p.duplicates = {{7, 3}};
  p.shard_rows = 10;
  p.outcome_rows = 2;
  p.input_offset = 120;
  p.next_line = 5;
  p.rows_done = 5;
  p.rejected = 1;
  p.sizes = {{"kept", 100}, {"rejects", 20}};
  p.done = false;
  return p;
}

TEST(FilterProgress, RoundTripsThroughItsFile) {
  const fs::path dir = TempDir("progress");
  const std::string path = (dir / "progress.json").string();
  ASSERT_TRUE(Sample().Save(path).ok());
  auto loaded = FilterProgress::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ToJson(), Sample().ToJson());
  EXPECT_EQ(loaded->duplicates.at(7), 3);
  EXPECT_EQ(loaded->sizes.at("kept"), 100u);
}

TEST(FilterProgress, EveryDamagedFieldIsNamed) {
  const json good = Sample().ToJson();
  struct Case {
    const char* key;
    json value;
  };
  for (const Case& c : {Case{"rows_done", "five"}, Case{"input_offset", -1}, Case{"done", 1},
                        Case{"sizes", json{{"kept", -3}}}, Case{"duplicates", json{{"7", 9}}},
                        Case{"settings", json::array()}, Case{"next_line", nullptr}}) {
    json damaged = good;
    damaged[c.key] = c.value;
    auto read = FilterProgress::FromJson(damaged, "out/.filter-state/progress.json");
    ASSERT_FALSE(read.ok()) << c.key;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(read.status().message().find("out/.filter-state/progress.json"), std::string::npos);
    EXPECT_NE(read.status().message().find(c.key), std::string::npos) << read.status().message();
  }
  json missing = good;
  missing.erase("rejected");
  EXPECT_NE(FilterProgress::FromJson(missing, "p").status().message().find("'rejected'"), std::string::npos);
}

TEST(FilterProgress, ALoadOfNotJsonSaysSo) {
  const fs::path dir = TempDir("progress-bad");
  const std::string path = (dir / "progress.json").string();
  std::ofstream(path) << "{\"settings\": ";
  auto loaded = FilterProgress::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("not JSON"), std::string::npos);
  EXPECT_NE(loaded.status().message().find("--restart"), std::string::npos);
}

TEST(FilterOutputs, CutsBackToRecordedSizesAndCountsWhatItWrites) {
  const fs::path dir = TempDir("outputs");
  std::ofstream(dir / "kept.jsonl") << "{\"a\":1}\n{\"torn\":";
  std::ofstream(dir / "rejects.jsonl") << "stale\n";
  const std::map<std::string, std::string> paths = {{"kept", (dir / "kept.jsonl").string()},
                                                    {"rejects", (dir / "rejects.jsonl").string()}};
  auto outputs = FilterOutputs::Open(paths, {{"kept", 8}});
  ASSERT_TRUE(outputs.ok()) << outputs.status();
  outputs->Write("kept", json{{"b", 2}});
  ASSERT_TRUE(outputs->Flush().ok());
  EXPECT_EQ(Read(dir / "kept.jsonl"), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(Read(dir / "rejects.jsonl"), "");  // no recorded size: started empty
  EXPECT_EQ(outputs->Sizes().at("kept"), 16u);
  EXPECT_EQ(outputs->Sizes().at("rejects"), 0u);
}

TEST(OutputDirectoryLock, HeldWhileAliveAndReleasedAfter) {
  const fs::path dir = TempDir("lock");
  const std::string path = (dir / ".filter-state.lock").string();
  {
    auto first = OutputDirectoryLock::Acquire(path);
    ASSERT_TRUE(first.ok()) << first.status();
    auto second = OutputDirectoryLock::Acquire(path);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_TRUE(OutputDirectoryLock::Acquire(path).ok());
}

TEST(OutputDirectoryLock, AnUncreatableLockIsNotCalledBusy) {
  auto lock = OutputDirectoryLock::Acquire("/nonexistent-dir-for-sparsegate/.lock");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(lock.status().message().find("another filter run"), std::string::npos);
}

}  // namespace
}  // namespace sparsegate::offline
