#include "difficulty_service/core/checkpoint/model_config.h"

#include <cmath>
#include <tuple>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/json_parse.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

using nlohmann::json;

// Reads an optional field, failing (not coercing) when it has the wrong type: nlohmann would turn
// 64.5 into 64 for an integer field, and true into 1.
template <typename T>
absl::Status Read(const json& j, const char* key, T* out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  bool right_type = true;
  if constexpr (std::is_same_v<T, bool>) {
    right_type = it->is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    right_type = it->is_number_integer();
  } else if constexpr (std::is_floating_point_v<T>) {
    right_type = it->is_number();
  }
  // The message names the types, never the value: a file can be made to stand in for config.json
  // (a symbolic link, a Reload path), and its contents must not come back in the error.
  const char* expected = std::is_same_v<T, bool> ? "a boolean" : std::is_integral_v<T> ? "an integer"
                       : std::is_floating_point_v<T> ? "a number" : "a string";
  auto wrong_type = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field '", key, "' has the wrong type (expected ", expected, ", found ", it->type_name(), ")"));
  };
  if (!right_type) return wrong_type();
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return wrong_type();
  }
  return absl::OkStatus();
}

absl::Status ReadRope(const json& j, const std::string& where, RopeConfig* rope) {
  // Newer releases: {"rope_parameters": {"rope_theta": ..., "rope_type": ..., scaling fields}}.
  // Older ones: top-level rope_theta and an optional rope_scaling object.
  const json* params = nullptr;
  if (auto it = j.find("rope_parameters"); it != j.end() && it->is_object()) params = &*it;
  if (auto it = j.find("rope_scaling"); params == nullptr && it != j.end() && it->is_object()) params = &*it;

  if (auto s = Read(j, "rope_theta", &rope->theta, where); !s.ok()) return s;
  if (params == nullptr) return absl::OkStatus();
  if (auto s = Read(*params, "rope_theta", &rope->theta, where); !s.ok()) return s;

  std::string type = "default";
  if (auto s = Read(*params, "type", &type, where); !s.ok()) return s;  // legacy spelling
  if (auto s = Read(*params, "rope_type", &type, where); !s.ok()) return s;
  const std::string field = absl::StrCat(where, " rope");
  for (auto [key, out] : {std::pair<const char*, double*>{"factor", &rope->factor},
                          {"low_freq_factor", &rope->low_freq_factor},
                          {"high_freq_factor", &rope->high_freq_factor}}) {
    if (auto s = Read(*params, key, out, field); !s.ok()) return s;
  }
  if (auto s = Read(*params, "original_max_position_embeddings", &rope->original_max_position_embeddings, field); !s.ok())
    return s;

  if (type == "default") {
    rope->type = RopeConfig::Type::kDefault;
  } else if (type == "linear") {
    rope->type = RopeConfig::Type::kLinear;
  } else if (type == "llama3") {
    rope->type = RopeConfig::Type::kLlama3;
    if (rope->original_max_position_embeddings <= 0)
      return absl::InvalidArgumentError(absl::StrCat(where, ": llama3 rope scaling needs original_max_position_embeddings"));
  } else {
    return absl::UnimplementedError(
        absl::StrCat(where, ": rope_type is not supported (supported: default, linear, llama3)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromJson(const json& j, const std::string& where) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
  ModelConfig c;
  if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
    c.architecture = (*it)[0].get<std::string>();
  absl::Status s;
  auto read = [&](const char* key, auto* out) {
    if (s.ok()) s = Read(j, key, out, where);
  };
  read("model_type", &c.model_type);
  read("vocab_size", &c.vocab_size);
  read("hidden_size", &c.hidden_size);
  read("intermediate_size", &c.intermediate_size);
  read("num_hidden_layers", &c.num_hidden_layers);
  read("num_attention_heads", &c.num_attention_heads);
  read("num_key_value_heads", &c.num_key_value_heads);
  read("head_dim", &c.head_dim);
  read("max_position_embeddings", &c.max_position_embeddings);
  // Absent means unknown (the engine's own cap applies); present, it must admit a prompt.
  if (s.ok() && j.contains("max_position_embeddings") && !j["max_position_embeddings"].is_null() &&
      c.max_position_embeddings <= 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ": 'max_position_embeddings' is ", c.max_position_embeddings,
                                                   "; it must be a positive integer"));
  read("rms_norm_eps", &c.rms_norm_eps);
  read("tie_word_embeddings", &c.tie_word_embeddings);
  read("torch_dtype", &c.torch_dtype);
  if (c.torch_dtype.empty()) read("dtype", &c.torch_dtype);
  std::string hidden_act = "silu";
  read("hidden_act", &hidden_act);
  if (!s.ok()) return s;
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    for (const json& id : it->is_array() ? *it : json::array({*it})) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= c.vocab_size)
        return absl::InvalidArgumentError(absl::StrCat(where, ": eos_token_id must be token ids below vocab_size"));
      c.eos_token_ids.push_back(id.get<int32_t>());
    }
  }
  if (auto rs = ReadRope(j, where, &c.rope); !rs.ok()) return rs;

  if (c.model_type == "qwen2") {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases, o_proj none
    bool use_sliding = false;
    read("use_sliding_window", &use_sliding);
    if (use_sliding) {
      // Qwen2 applies the window only to layers past max_window_layers; per-layer windows are not implemented.
      return absl::UnimplementedError(absl::StrCat(where, ": qwen2 use_sliding_window=true is not supported"));
    }
  } else if (c.model_type == "qwen3") {
    c.qk_norm = true;
    read("attention_bias", &c.attention_bias);
    bool use_sliding = false;
    read("use_sliding_window", &use_sliding);
    if (use_sliding)
      return absl::UnimplementedError(absl::StrCat(where, ": qwen3 use_sliding_window=true is not supported"));
  } else if (c.model_type == "llama") {
    read("attention_bias", &c.attention_bias);
    c.o_proj_bias = c.attention_bias;
    read("mlp_bias", &c.mlp_bias);
  } else if (c.model_type == "mistral") {
    read("sliding_window", &c.sliding_window);
  } else {
    return absl::UnimplementedError(absl::StrCat(where, c.model_type.empty() ? ": model_type is missing" : ": model_type is not supported",
                                                 " (supported: qwen2, qwen3, llama, mistral)"));
  }
  if (!s.ok()) return s;
  if (hidden_act != "silu")
    return absl::UnimplementedError(absl::StrCat(where, ": hidden_act is not supported (only silu)"));

  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  if (c.head_dim == 0 && c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  for (auto [key, value] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                            {"hidden_size", c.hidden_size},
                            {"intermediate_size", c.intermediate_size},
                            {"num_hidden_layers", c.num_hidden_layers},
                            {"num_attention_heads", c.num_attention_heads},
                            {"num_key_value_heads", c.num_key_value_heads},
                            {"head_dim", c.head_dim}}) {
    if (value <= 0) return absl::InvalidArgumentError(absl::StrCat(where, ": '", key, "' must be a positive integer"));
  }
  // Bounds far beyond any released model, so that a corrupt or hostile config.json is refused here,
  // naming the field, instead of sizing allocations (10^15 layers) or producing NaN features.
  for (auto [key, value, limit] : {std::tuple<const char*, int64_t, int64_t>{"vocab_size", c.vocab_size, 1 << 24},
                                   {"hidden_size", c.hidden_size, 1 << 16},
                                   {"intermediate_size", c.intermediate_size, 1 << 20},
                                   {"num_hidden_layers", c.num_hidden_layers, 1 << 10},
                                   {"num_attention_heads", c.num_attention_heads, 1 << 10},
                                   {"num_key_value_heads", c.num_key_value_heads, 1 << 10},
                                   {"head_dim", c.head_dim, 1 << 12},
                                   {"max_position_embeddings", c.max_position_embeddings, int64_t{1} << 24},
                                   {"sliding_window", c.sliding_window, int64_t{1} << 24},
                                   {"rope_scaling.original_max_position_embeddings",
                                    c.rope.original_max_position_embeddings, int64_t{1} << 24}}) {
    if (value < 0 || value > limit)
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": '", key, "' is ", value, ", outside [0, ", limit, "]"));
  }
  for (auto [key, value] : {std::pair<const char*, double>{"rms_norm_eps", c.rms_norm_eps},
                            {"rope_theta", c.rope.theta},
                            {"rope_scaling.factor", c.rope.factor},
                            {"rope_scaling.low_freq_factor", c.rope.low_freq_factor},
                            {"rope_scaling.high_freq_factor", c.rope.high_freq_factor}}) {
    if (!std::isfinite(value) || value <= 0)
      return absl::InvalidArgumentError(absl::StrCat(where, ": '", key, "' is ", value, "; it must be a positive number"));
  }
  if (c.rms_norm_eps >= 1)
    return absl::InvalidArgumentError(absl::StrCat(where, ": 'rms_norm_eps' is ", c.rms_norm_eps, "; expected below 1"));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ": num_attention_heads ", c.num_attention_heads,
                                                   " is not a multiple of num_key_value_heads ", c.num_key_value_heads));
  if (c.head_dim % 2 != 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ": head_dim ", c.head_dim, " must be even for RoPE"));
  return c;
}

absl::StatusOr<ModelConfig> ModelConfig::FromFile(const std::string& path) {
  // A config.json is a few kilobytes; 4 MiB refuses a wrong file before it is parsed whole.
  absl::StatusOr<json> j = ParseJsonFile(path, int64_t{4} << 20);
  if (!j.ok()) return j.status();
  return FromJson(*j, path);
}

}  // namespace sparsegate
