// Translation between the gRPC API (sparsegate.v1) and the engine's own types.
//
// JobFromRequest() does every check that needs no tokenizer: a non-empty
// batch within the per-request limit, each prompt holding text or ids,
// known poolings and truncation, layers and channels in range. Errors are
// INVALID_ARGUMENT naming the prompt's index or the option. Tokenization
// checks (UTF-8, vocabulary, length) happen later on the tokenizer pool.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_REQUEST_TRANSLATION_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_REQUEST_TRANSLATION_H_

#include <memory>

#include "absl/status/statusor.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/batcher/score_job.h"
#include "grpcpp/support/status.h"
#include "sparsegate/v1/difficulty.pb.h"

namespace sparsegate {

absl::StatusOr<std::shared_ptr<ScoreJob>> JobFromRequest(const v1::ScoreRequest& request, const ScoringEngine& engine,
                                                         int max_prompts_per_request);

// Results in request order, with ids echoed and the timing split.
void FillResponse(const v1::ScoreRequest& request, const ScoreJob& job, const std::string& model_digest,
                  double total_ms, v1::ScoreResponse* response);

// OK when every metric of metric_list.h is a float field of v1::SparsityMetrics and the message
// has no other field; the server refuses to start otherwise.
absl::Status CheckMetricFields();

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_REQUEST_TRANSLATION_H_
