// The plugin against real servers on loopback: a batch is scored and
// decided, rewards fed back move the hint ladder, a replica that is not
// serving is skipped, a dead replica is routed around, and with no replica
// at all every decision fails open to KEEP.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "../server/server_process.h"
#include "difficulty_service/service/server/difficulty_server.h"
#include "trainer_plugin/gate.h"

namespace sparsegate::plugin {
namespace {

using sparsegate::testing::ServerProcess;

std::string Model(const std::string& name) { return std::string(SPARSEGATE_TINY_DIR) + "/" + name; }

std::vector<GatePrompt> Batch() {
  std::vector<GatePrompt> batch;
  for (int i = 0; i < 8; ++i) {
    GatePrompt p;
    p.id = "p" + std::to_string(i);
    p.text = "Problem " + std::to_string(i) + ": compute " + std::to_string(1000 + 37 * i) + " * " + std::to_string(97 - i) + ".";
    if (i % 2 == 0) p.reference_solution = "First multiply the units.\nThen carry the tens.\nFinally add the partial products.\n";
    batch.push_back(p);
  }
  return batch;
}

std::unique_ptr<Gate> MakeGate(const std::string& target, int max_attempts = 4) {
  GateOptions options;
  options.client.target = target;
  options.client.max_attempts = max_attempts;
  options.client.layers = {-1, 1};
  options.client.poolings = {"last_token", "mean"};
  options.client.deadline = std::chrono::milliseconds(10000);
  options.client.max_prompts_per_call = 3;  // several calls per batch, spread over the replicas
  options.tokenizer_path = Model("tiny_qwen3");
  auto gate = Gate::Create(options);
  EXPECT_TRUE(gate.ok()) << gate.status();
  return gate.ok() ? *std::move(gate) : nullptr;
}

// The client target for round robin over two replicas.
std::string BothReplicas(const ServerProcess& a, const ServerProcess& b) {
  return "ipv4:127.0.0.1:" + std::to_string(a.port()) + ",127.0.0.1:" + std::to_string(b.port());
}

TEST(GateEndToEnd, RewardsMoveTheLadderAndFailuresFailOpen) {
  ServerProcess a(SPARSEGATE_BIN, Model("tiny_qwen3")), b(SPARSEGATE_BIN, Model("tiny_qwen3"));
  ASSERT_TRUE(a.ok() && b.ok()) << a.log() << b.log();
  auto gate = MakeGate(BothReplicas(a, b));
  ASSERT_NE(gate, nullptr);
  ASSERT_TRUE(gate->client().WaitForService(std::chrono::seconds(10)).ok());
  const auto batch = Batch();

  auto first = gate->Decide(batch);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), batch.size());
  EXPECT_EQ(gate->client().stats().prompts_failed_open, 0) << gate->client().stats().last_error;
  EXPECT_EQ(gate->client().schema().size(), 4u * 14u);
  std::map<std::string, int> level_before;
  for (const GatedDecision& d : *first) {
    EXPECT_FALSE(d.decision.fail_open) << d.decision.reason;
    ASSERT_TRUE(d.decision.prediction.has_value());
    level_before[d.decision.prompt_id] = d.decision.hint_level;
  }

  // Every rollout of every prompt fails, twice.
  for (int round = 0; round < 2; ++round) {
    for (const GatePrompt& p : batch) ASSERT_TRUE(gate->Observe(p.id, std::vector<double>(8, 0.0)).ok());
    auto again = gate->Decide(batch);
    ASSERT_TRUE(again.ok()) << again.status();
  }
  auto after = gate->Decide(batch);
  ASSERT_TRUE(after.ok());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Decision& d = (*after)[i].decision;
    if (batch[i].reference_solution) {
      // With a reference: guided, higher on the ladder, the hint placed in the prompt.
      EXPECT_EQ(d.kind, DecisionKind::kGuide) << d.reason;
      EXPECT_GT(d.hint_level, level_before[d.prompt_id]) << d.reason;
      EXPECT_NE(d.prompt_text.find("First multiply the units."), std::string::npos) << d.prompt_text;
    } else {
      // Without one: dropped (quarantined) after repeated all-zero groups.
      EXPECT_EQ(d.kind, DecisionKind::kDrop) << d.reason;
    }
  }

  // One replica goes away: the other answers everything.
  a.Stop();
  auto one_left = gate->Decide(batch);
  ASSERT_TRUE(one_left.ok());
  int64_t failed_before = gate->client().stats().prompts_failed_open;
  auto still = gate->Decide(batch);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(gate->client().stats().prompts_failed_open, failed_before) << gate->client().stats().last_error;

  // No replica at all: every prompt fails open, training goes on.
  b.Stop();
  auto none = gate->Decide(batch);
  ASSERT_TRUE(none.ok()) << none.status();
  for (const GatedDecision& d : *none) {
    EXPECT_TRUE(d.decision.fail_open);
    EXPECT_EQ(d.decision.kind, DecisionKind::kKeep);
  }
  EXPECT_GE(gate->client().stats().prompts_failed_open, failed_before + static_cast<int64_t>(batch.size()));
  EXPECT_GE(gate->plugin().Stats().counters.fail_open_decisions, static_cast<int64_t>(batch.size()));
}

TEST(GateEndToEnd, ReplicaThatIsNotServingIsSkipped) {
  // A replica whose model never loads listens but reports NOT_SERVING.
  ServerOptions options;
  options.model_dir = Model("bad_shape");
  options.address = "127.0.0.1:0";
  auto broken = DifficultyServer::Start(options);
  ASSERT_TRUE(broken.ok());
  ASSERT_FALSE((*broken)->WaitUntilReady().ok());
  ServerProcess good(SPARSEGATE_BIN, Model("tiny_qwen3"));
  ASSERT_TRUE(good.ok()) << good.log();

  // No retries: a call routed to the broken replica would fail open at once,
  // so only health checking keeps every prompt scored.
  auto gate = MakeGate("ipv4:127.0.0.1:" + std::to_string((*broken)->port()) + ",127.0.0.1:" + std::to_string(good.port()),
                       /*max_attempts=*/1);
  ASSERT_NE(gate, nullptr);
  ASSERT_TRUE(gate->client().WaitForService(std::chrono::seconds(10)).ok());
  for (int round = 0; round < 3; ++round) {
    auto decisions = gate->Decide(Batch());
    ASSERT_TRUE(decisions.ok()) << decisions.status();
  }
  EXPECT_EQ(gate->client().stats().prompts_failed_open, 0) << gate->client().stats().last_error;
}

TEST(GateEndToEnd, IdsInIdsOut) {
  ServerProcess server(SPARSEGATE_BIN, Model("tiny_qwen3"));
  ASSERT_TRUE(server.ok()) << server.log();
  auto gate = MakeGate(server.address());
  ASSERT_NE(gate, nullptr);
  GatePrompt p;
  p.id = "ids";
  p.text = "What is 6 * 7?";
  p.ids = {87, 104, 97, 116, 32, 105, 115, 32, 54, 32, 42, 32, 55, 63};
  p.reference_solution = "6 * 7 = 42.\nThe answer is 42.\n";
  // Fail twice so that the prompt is guided.
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(gate->Decide({p}).ok());
    ASSERT_TRUE(gate->Observe(p.id, std::vector<double>(8, 0.0)).ok());
  }
  auto decided = gate->Decide({p});
  ASSERT_TRUE(decided.ok()) << decided.status();
  const GatedDecision& d = (*decided)[0];
  ASSERT_EQ(d.decision.kind, DecisionKind::kGuide) << d.decision.reason;
  ASSERT_GT(d.prompt_ids.size(), p.ids.size());
  EXPECT_TRUE(std::equal(p.ids.begin(), p.ids.end(), d.prompt_ids.begin()));  // the prompt's own ids first
}

TEST(GateEndToEnd, AReplicaDrainedBySigtermLosesNoDecision) {
  ServerProcess a(SPARSEGATE_BIN, Model("tiny_qwen3"), {"--drain-timeout", "10"});
  ServerProcess b(SPARSEGATE_BIN, Model("tiny_qwen3"));
  ASSERT_TRUE(a.ok() && b.ok()) << a.log() << b.log();
  auto gate = MakeGate(BothReplicas(a, b));
  ASSERT_NE(gate, nullptr);
  ASSERT_TRUE(gate->client().WaitForService(std::chrono::seconds(10)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> batches{0};
  std::thread trainer([&] {
    while (!stop) {
      auto decided = gate->Decide(Batch());
      EXPECT_TRUE(decided.ok()) << decided.status();
      ++batches;
    }
  });
  while (batches < 3) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(a.Stop(), 0) << a.log();  // SIGTERM: drained, then exit 0
  const int at_stop = batches;
  while (batches < at_stop + 3) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  trainer.join();
  EXPECT_EQ(gate->client().stats().prompts_failed_open, 0) << gate->client().stats().last_error;
  EXPECT_NE(a.log().find("drained"), std::string::npos) << a.log();
}

// Not a drain: SIGKILL, with calls in flight on the replica. gRPC's retry policy (UNAVAILABLE)
// sends them to the replicas still up, so no decision fails open and none is lost.
TEST(GateEndToEnd, OneOfThreeReplicasKilledMidStreamLosesNoDecision) {
  ServerProcess a(SPARSEGATE_BIN, Model("tiny_qwen3")), b(SPARSEGATE_BIN, Model("tiny_qwen3")),
      c(SPARSEGATE_BIN, Model("tiny_qwen3"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.log() << b.log() << c.log();
  auto gate = MakeGate("ipv4:" + a.address() + "," + b.address() + "," + c.address());
  ASSERT_NE(gate, nullptr);
  ASSERT_TRUE(gate->client().WaitForService(std::chrono::seconds(10)).ok());
  const std::vector<GatePrompt> batch = Batch();
  std::atomic<bool> stop{false};
  std::atomic<int> batches{0};
  std::atomic<int64_t> decisions{0};
  std::thread trainer([&] {
    while (!stop) {
      auto decided = gate->Decide(batch);
      ASSERT_TRUE(decided.ok()) << decided.status();
      EXPECT_EQ(decided->size(), batch.size());
      for (const GatedDecision& d : *decided) EXPECT_FALSE(d.decision.fail_open) << d.decision.prompt_id;
      decisions += static_cast<int64_t>(decided->size());
      ++batches;
    }
  });
  while (batches < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(::kill(b.pid(), SIGKILL), 0);
  const int at_kill = batches;
  while (batches < at_kill + 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  trainer.join();
  const ClientStats stats = gate->client().stats();
  EXPECT_EQ(stats.prompts_failed_open, 0) << stats.last_error;
  EXPECT_EQ(stats.prompts_scored, decisions.load());
}

TEST(GateEndToEnd, ReplicasOfDifferentModelsAreNeverMixedInABatch) {
  // The same shape with other weights: the client used to mix both models' features in one batch.
  ServerProcess a(SPARSEGATE_BIN, Model("tiny_qwen3")), b(SPARSEGATE_BIN, Model("tiny_qwen3_seed1"));
  ASSERT_TRUE(a.ok() && b.ok()) << a.log() << b.log();
  auto gate = MakeGate(BothReplicas(a, b));
  ASSERT_NE(gate, nullptr);
  ASSERT_TRUE(gate->client().WaitForService(std::chrono::seconds(10)).ok());
  // Several calls per batch, round robin over both (until both replicas have answered in one batch).
  for (int round = 0; round < 20 && gate->client().stats().prompts_from_other_models == 0; ++round) {
    auto decided = gate->Decide(Batch());
    ASSERT_TRUE(decided.ok()) << decided.status();
    std::set<std::string> digests;
    for (const GatedDecision& d : *decided)
      if (!d.decision.fail_open) digests.insert(d.decision.model_digest);
    EXPECT_LE(digests.size(), 1u);
  }
  EXPECT_GT(gate->client().stats().prompts_from_other_models, 0);
  EXPECT_NE(gate->client().stats().last_error.find("replicas serve different models"), std::string::npos);
}

TEST(GateEndToEnd, ATruncatedPromptIsCountedNotHidden) {
  // The Gate keeps the service's left truncation (refusing one long prompt would fail its whole
  // call open); it used to leave no trace of it.
  ServerProcess server(SPARSEGATE_BIN, Model("tiny_qwen3"));
  ASSERT_TRUE(server.ok()) << server.log();
  auto gate = MakeGate(server.address());
  ASSERT_NE(gate, nullptr);
  GatePrompt long_prompt;
  long_prompt.id = "long";
  long_prompt.text = std::string(2000, 'x') + " what is left?";
  std::vector<GatePrompt> batch = Batch();
  batch.push_back(long_prompt);
  auto decided = gate->Decide(batch);
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_EQ(gate->client().stats().prompts_failed_open, 0) << gate->client().stats().last_error;
  EXPECT_EQ(gate->plugin().Stats().counters.truncated_prompts, 1);
}

}  // namespace
}  // namespace sparsegate::plugin
