// The architecture hyper-parameters of a decoder-only checkpoint, read from a
// Hugging Face config.json.
//
// Supported model_type values: qwen2, qwen3, llama, mistral. Both places
// recent releases put RoPE settings are accepted: top-level rope_theta /
// rope_scaling, and the newer rope_parameters object. Anything the forward
// pass cannot honour (another activation, an unknown rope_type) is an error
// here, at load time, not a silent approximation later.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_MODEL_CONFIG_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace sparsegate {

struct RopeConfig {
  enum class Type { kDefault, kLinear, kLlama3 };
  Type type = Type::kDefault;
  double theta = 10000.0;
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
};

struct ModelConfig {
  std::string architecture;  // architectures[0], e.g. "Qwen2ForCausalLM"
  std::string model_type;    // "qwen2", "qwen3", "llama", "mistral"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v (and for llama o) projections carry biases
  bool o_proj_bias = false;
  bool mlp_bias = false;
  bool qk_norm = false;         // Qwen3: per-head RMSNorm on q and k before RoPE
  // Tokens a position may attend to, itself included; 0 = unlimited.
  int64_t sliding_window = 0;
  std::string torch_dtype;
  // eos_token_id, one id or a list (Llama 3.1); generation stops at any of them.
  std::vector<int32_t> eos_token_ids;

  // `source` names the file in error messages.
  static absl::StatusOr<ModelConfig> FromJson(const nlohmann::json& j, const std::string& source);
  static absl::StatusOr<ModelConfig> FromFile(const std::string& path);
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_MODEL_CONFIG_H_
