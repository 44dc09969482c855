// A ScoreRequest from arbitrary protobuf bytes, translated as the server does: JobFromRequest
// answers a status or a job; every prompt of a job is prepared (tokenizer, chat template, limits),
// and small jobs are scored on the embedded model with the options the bytes ask for (layers,
// poolings, excluded channels), so the feature code sees them too.
#include "difficulty_service/service/server/request_translation.h"
#include "fuzz_input.h"

namespace {

const sparsegate::ScoringEngine& Engine() {
  static const sparsegate::ScoringEngine* engine = [] {
    const char* dir = std::getenv("SPARSEGATE_FUZZ_MODEL");
    sparsegate::EngineOptions options;
    options.max_prompt_tokens = 64;  // small forward passes keep the fuzzer fast
    auto e = sparsegate::ScoringEngine::Load(dir ? dir : SPARSEGATE_DEFAULT_MODEL, options);
    if (!e.ok()) std::abort();
    return e->release();
  }();
  return *engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate;
  const ScoringEngine& engine = Engine();
  v1::ScoreRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto job = JobFromRequest(request, engine, 16);
  if (!job.ok()) return 0;
  std::vector<PreparedPrompt> prepared;
  for (const PromptInput& input : (*job)->prompts) {
    auto p = engine.Prepare(input, (*job)->truncate_left);
    if (!p.ok()) return 0;
    if (static_cast<int64_t>(p->ids.size()) > engine.max_prompt_tokens()) __builtin_trap();
    prepared.push_back(*std::move(p));
  }
  if (prepared.size() > 4) return 0;
  std::vector<const PreparedPrompt*> prompts;
  std::vector<const FeatureRequest*> requests;
  for (const PreparedPrompt& p : prepared) {
    prompts.push_back(&p);
    requests.push_back(&(*job)->features);
  }
  std::vector<ScoredPrompt> scored = engine.Run(prompts, requests);
  if (scored.size() != prompts.size()) __builtin_trap();
  return 0;
}
