#include "difficulty_service/service/server/request_translation.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/features/metric_list.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

absl::StatusOr<Pooling> PoolingFromProto(int value, int position) {
  switch (value) {
    case v1::POOLING_LAST_TOKEN: return Pooling::kLastToken;
    case v1::POOLING_MEAN: return Pooling::kMean;
    default:
      return absl::InvalidArgumentError(absl::StrCat("options.poolings[", position, "] = ", value,
                                                     " is not a pooling (POOLING_LAST_TOKEN or POOLING_MEAN)"));
  }
}

v1::Pooling PoolingToProto(Pooling pooling) {
  return pooling == Pooling::kMean ? v1::POOLING_MEAN : v1::POOLING_LAST_TOKEN;
}

// The proto's field for each metric, found by name: metric_list.h is the one list, and the proto
// only has to spell the same names (CheckMetricFields says so at start-up).
const std::vector<const google::protobuf::FieldDescriptor*>& MetricFields() {
  static const auto* fields = [] {
    auto* found = new std::vector<const google::protobuf::FieldDescriptor*>;
    for (const char* name : MetricNames()) found->push_back(v1::SparsityMetrics::descriptor()->FindFieldByName(name));
    return found;
  }();
  return *fields;
}

void FillMetrics(const MetricValues& m, v1::SparsityMetrics* out) {
  const auto* reflection = v1::SparsityMetrics::GetReflection();
  const auto& fields = MetricFields();
  for (int i = 0; i < kNumMetrics; ++i) reflection->SetFloat(out, fields[i], m[i]);
}

}  // namespace

absl::StatusOr<std::shared_ptr<ScoreJob>> JobFromRequest(const v1::ScoreRequest& request, const ScoringEngine& engine,
                                                         int max_prompts_per_request) {
  const int n = request.prompts_size();
  if (n == 0) return absl::InvalidArgumentError("the request has no prompts");
  if (n > max_prompts_per_request)
    return absl::InvalidArgumentError(absl::StrCat("the request has ", n, " prompts, over the limit of ",
                                                   max_prompts_per_request, " per request; split it"));
  auto job = std::make_shared<ScoreJob>();
  if (!request.unknown_fields().empty())
    return absl::InvalidArgumentError("the request holds fields this server does not define");
  const v1::ScoreOptions& options = request.options();
  // proto2 enums are closed: an enum number this server does not define
  // lands in the unknown fields. Ignoring it would silently change results.
  if (!options.unknown_fields().empty())
    return absl::InvalidArgumentError(
        "options holds fields or enum values this server does not define (for example an unknown pooling)");

  std::vector<int> requested_layers;
  for (int i = 0; i < options.layers_size(); ++i) {
    const int64_t layer = options.layers(i);
    // Narrowed only once it is known to fit: 4294967297 must not become layer 1.
    if (layer < std::numeric_limits<int>::min() || layer > std::numeric_limits<int>::max())
      return absl::InvalidArgumentError(absl::StrCat("options.layers[", i, "] = ", layer, " is outside [-",
                                                     engine.config().num_hidden_layers + 1, ", ",
                                                     engine.config().num_hidden_layers, "]"));
    requested_layers.push_back(static_cast<int>(layer));
  }
  auto layers = engine.ResolveLayers(requested_layers);
  if (!layers.ok()) return absl::InvalidArgumentError(absl::StrCat("options.layers: ", layers.status().message()));
  job->features.layers = *std::move(layers);

  if (options.poolings_size() > 0) job->features.poolings.clear();
  for (int i = 0; i < options.poolings_size(); ++i) {
    auto pooling = PoolingFromProto(options.poolings(i), i);
    if (!pooling.ok()) return pooling.status();
    auto& list = job->features.poolings;
    if (std::find(list.begin(), list.end(), *pooling) != list.end())
      return absl::InvalidArgumentError(absl::StrCat("options.poolings[", i, "] repeats a pooling already asked for"));
    list.push_back(*pooling);
  }
  auto channels = engine.ResolveChannels(
      std::vector<int64_t>(options.exclude_channels().begin(), options.exclude_channels().end()));
  if (!channels.ok()) return absl::InvalidArgumentError(absl::StrCat("options.exclude_channels: ", channels.status().message()));
  job->features.exclude_channels = *std::move(channels);
  job->features.exclude_detected_outliers = options.exclude_detected_outliers();
  job->features.return_hidden = options.return_hidden();

  switch (options.truncation()) {
    case v1::TRUNCATION_NONE: job->truncate_left = false; break;
    case v1::TRUNCATION_LEFT: job->truncate_left = true; break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("options.truncation = ", options.truncation(), " is not a truncation mode"));
  }

  // The ids come back in the response, which a client's proto3 or JSON decoder refuses to read if
  // they are not UTF-8 (the proto is proto2 so that the server can say so itself).
  if (const size_t bad = utf8::FindInvalid(request.request_id()); bad != std::string::npos)
    return absl::InvalidArgumentError(absl::StrCat("request_id is not valid UTF-8 (byte offset ", bad, ")"));
  job->prompts.resize(n);
  for (int i = 0; i < n; ++i) {
    const v1::Prompt& prompt = request.prompts(i);
    if (!prompt.unknown_fields().empty() || !prompt.tokens().unknown_fields().empty())
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " holds fields this server does not define"));
    if (const size_t bad = utf8::FindInvalid(prompt.id()); bad != std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, ": id is not valid UTF-8 (byte offset ", bad, ")"));
    PromptInput& input = job->prompts[i];
    input.apply_chat_template = prompt.apply_chat_template();
    if (prompt.has_text() && prompt.has_tokens())
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, ": has both text and tokens; set one"));
    if (prompt.has_text()) {
      input.text = prompt.text();
    } else if (prompt.has_tokens()) {
      std::vector<int32_t> ids;
      ids.reserve(prompt.tokens().ids_size());
      for (int k = 0; k < prompt.tokens().ids_size(); ++k) {
        const int64_t id = prompt.tokens().ids(k);
        if (id < 0 || id > std::numeric_limits<int32_t>::max())
          return absl::InvalidArgumentError(absl::StrCat("prompt ", i, ": token id ", id, " at position ", k,
                                                         " is outside the vocabulary [0, ", engine.config().vocab_size, ")"));
        ids.push_back(static_cast<int32_t>(id));
      }
      input.ids = std::move(ids);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, ": has neither text nor tokens"));
    }
  }
  return job;
}

void FillResponse(const v1::ScoreRequest& request, const ScoreJob& job, const std::string& model_digest,
                  double total_ms, v1::ScoreResponse* response) {
  response->set_request_id(request.request_id());
  response->set_model_digest(model_digest);
  for (size_t i = 0; i < job.results.size(); ++i) {
    const ScoredPrompt& features = job.results[i];
    v1::PromptResult* result = response->add_results();
    result->set_id(request.prompts(static_cast<int>(i)).id());
    result->set_index(static_cast<int>(i));
    result->set_token_count(static_cast<int>(features.token_count));
    result->set_truncated(features.truncated);
    result->set_original_token_count(static_cast<int>(features.original_token_count));
    for (const FeatureSet& set : features.features) {
      v1::FeatureSet* out = result->add_features();
      out->set_layer(set.layer);
      out->set_pooling(PoolingToProto(set.pooling));
      FillMetrics(set.metrics, out->mutable_metrics());
      out->mutable_hidden()->Add(set.hidden.begin(), set.hidden.end());
    }
  }
  v1::Timing* timing = response->mutable_timing();
  timing->set_tokenize_ms(job.timing.tokenize_ms);
  timing->set_queue_ms(job.timing.queue_ms);
  timing->set_forward_ms(job.timing.forward_ms);
  timing->set_total_ms(total_ms);
}

absl::Status CheckMetricFields() {
  const auto* descriptor = v1::SparsityMetrics::descriptor();
  for (int i = 0; i < kNumMetrics; ++i) {
    const auto* field = MetricFields()[i];
    if (field == nullptr || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_FLOAT)
      return absl::InternalError(absl::StrCat("metric '", MetricNames()[i], "' is not a float field of ",
                                              descriptor->full_name()));
  }
  if (descriptor->field_count() != kNumMetrics)
    return absl::InternalError(absl::StrCat(descriptor->full_name(), " has ", descriptor->field_count(),
                                            " fields for ", kNumMetrics, " metrics"));
  return absl::OkStatus();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace sparsegate
