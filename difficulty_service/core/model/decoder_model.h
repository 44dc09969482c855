// A decoder-only transformer (Qwen2/2.5, Qwen3, Llama 2/3/3.1, Mistral) run
// with ATen on the CPU or a GPU (device.h says which dtype it computes in:
// by default float32 on CPU whatever the checkpoint's dtype, the
// checkpoint's own dtype on a GPU).
//
// Load() checks every tensor the config implies against the weight files:
// a missing tensor or a shape that disagrees with config.json is an error
// naming the file and the tensor. On CPU in float32, F32 weights are used in
// place from the memory-mapped files; any other weight is converted once at
// load. In a reduced dtype the numerics follow Hugging Face's: RMSNorm and
// softmax in float32, RoPE tables computed in float32 and cast.
//
// Hidden states follow Hugging Face output_hidden_states indexing: 0 is the
// embedding output, i the output of decoder layer i, and num_layers the
// output of the last layer after the final norm. The forward pass stops at
// the deepest index asked for and never computes the LM head.
//
// For generation (the embedded model's evaluation, not the service), Load
// with lm_head = true keeps the LM head, and NextTokenLogits() runs new
// positions against a KV cache.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_DECODER_MODEL_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_DECODER_MODEL_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/core/model/cpu_matmul.h"
#include "difficulty_service/core/model/device.h"
#include "difficulty_service/core/model/prefix_cache.h"
#include "difficulty_service/core/model/rope.h"

namespace sparsegate {

// How PackedHiddenStates runs attention over a packed batch.
enum class PackedAttention {
  kAuto,       // per prompt on the CPU, padded on a GPU
  kPerPrompt,  // one attention call per prompt: no padding at all (the CPU's choice)
  kPadded,     // one call over a zero-padded copy of Q/K/V: one launch for the batch (a GPU's)
};

struct ModelLoadOptions {
  // The service never needs it, and for a large vocabulary it is the
  // biggest tensor of the model.
  bool lm_head = false;
  c10::Device device = c10::kCPU;
  std::optional<c10::ScalarType> dtype;  // nullopt: auto (device.h)
  PackedAttention packed_attention = PackedAttention::kAuto;
  // PackedHiddenStates computes a prefix of at least this many tokens once for the prompts of a
  // batch that begin with it (shared_prefixes.h); 0 turns sharing off. Attention over a padded
  // copy (a GPU's) does not share.
  int64_t shared_prefix_min_tokens = 16;
  // Which library computes float32 products on the CPU (device.h, cpu_matmul.h). kOneDnn on any
  // other device or dtype is refused; kAuto probes one layer at load on a float32 CPU model, and
  // means the BLAS elsewhere.
  CpuMatmul cpu_matmul = CpuMatmul::kAuto;
};

class DecoderModel {
 public:
  static absl::StatusOr<std::unique_ptr<DecoderModel>> Load(const Checkpoint& checkpoint,
                                                           const ModelLoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  int num_layers() const { return static_cast<int>(config_.num_hidden_layers); }
  const c10::Device& device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  // ModelLoadOptions::shared_prefix_min_tokens, or 0 where the packed forward does not share.
  int64_t shared_prefix_min_tokens() const { return shared_prefix_min_tokens_; }
  // The rows (tokens of one forward) from which the layers' products go to oneDNN: 1 with kOneDnn,
  // the probe's choice with kAuto, 0 for never. cpu_matmul_choice() says how it was chosen.
  int64_t onednn_from_rows() const { return onednn_from_rows_; }
  const std::string& cpu_matmul_choice() const { return cpu_matmul_choice_; }

  // ids: [B, T] int64 token ids, right-padded, on any device. Causal
  // attention means the padding never reaches a real position, so no
  // attention mask is needed and each row's first `length` positions are
  // exact. indices: hidden-state indices in [0, num_layers], any order.
  // Returns index -> [B, T, hidden_size] on the model's device in its
  // compute dtype. Thread-safe (const).
  std::map<int, at::Tensor> HiddenStates(const at::Tensor& ids, const std::vector<int>& indices) const;

  // The same states for prompts packed back to back, as text-embeddings-inference batches them:
  // ids: [N] int64 (any device), lengths: each prompt's token count (>= 1, summing to N). The
  // linear layers, norms and RoPE run on the N real tokens alone, and attention within each
  // prompt: one at a time on the CPU, and on a GPU as one call (the fused kernel where it fits)
  // over a zero-padded copy of Q/K/V, one launch for the batch instead of one per prompt
  // (ModelLoadOptions::packed_attention). No padding reaches the matrix products, and a prefix
  // that several prompts share is computed once (ModelLoadOptions::shared_prefix_min_tokens).
  // Returns index -> [N, hidden_size] on the model's device in its compute dtype, and the tokens
  // actually run in `computed_tokens` if given; lengths that do not add up to N throw c10::Error.
  // With a `cache` (prefix_cache.h; this model's own, where attention runs per prompt), a prompt
  // whose leading blocks an earlier forward stored computes only the tokens after them, and the
  // blocks this forward admits are stored for later ones.
  std::map<int, at::Tensor> PackedHiddenStates(const at::Tensor& ids, const std::vector<int64_t>& lengths,
                                               const std::vector<int>& indices, int64_t* computed_tokens = nullptr,
                                               PrefixCache* cache = nullptr) const;

  // Keys and values (after RoPE) of the positions run so far, per layer:
  // [B, num_key_value_heads, length, head_dim].
  struct KvCache {
    std::vector<at::Tensor> keys, values;
    int64_t length() const { return keys.empty() ? 0 : keys.front().size(2); }
    // Repeats every row `times` (sampling several continuations of one prompt).
    void RepeatRows(int64_t times);
  };

  // Runs ids [B, T] as positions [cache->length(), cache->length() + T),
  // appends them to the cache, and returns the next-token logits after the
  // last position, [B, vocab_size], float32 on the CPU. Needs the LM head
  // (ModelLoadOptions).
  at::Tensor NextTokenLogits(const at::Tensor& ids, KvCache* cache) const;

  // An upper bound on the device memory HiddenStates() takes per padded token (B x T of `ids`)
  // beyond the weights, for batches whose longest row has at most `longest` tokens and which keep
  // `kept_states` hidden states: the kept states, the residual stream, and the largest of one
  // layer's temporaries (the RMSNorm's float32 copies, Q/K/V with RoPE and the attention scores
  // where attention is not fused, the MLP's three intermediate activations). The batcher divides
  // a GPU's free memory by it (ScoringEngine::FitTokenBudget); tests/model checks it against the
  // peak a forward pass allocates.
  int64_t ForwardBytesPerToken(int64_t longest, int kept_states) const;

 private:
  struct Layer {
    at::Tensor input_norm, post_attention_norm;
    Projection q_proj, k_proj, v_proj, o_proj;  // biases: Qwen2's q/k/v, attention_bias models'
    at::Tensor q_norm, k_norm;                  // Qwen3 only
    Projection gate_proj, up_proj, down_proj;   // biases: Llama's mlp_bias only
    std::vector<Projection*> projections() {
      return {&q_proj, &k_proj, &v_proj, &o_proj, &gate_proj, &up_proj, &down_proj};
    }
  };

  // Where each packed segment lies (PackedHiddenStates): a whole prompt, a prefix that prompts
  // share, or a prompt's tokens after its shared prefix, which attend to the prefix first.
  // Built once per forward pass, so that no layer rebuilds its masks.
  struct Packing {
    std::vector<int64_t> lengths;  // per segment
    std::vector<int> parents;      // per segment: the prefix segment it continues, or -1
    int64_t longest = 0;           // the longest prompt, prefix included
    at::Tensor positions;      // [N] each token's position within its prompt, on the device
    // Padded attention: [N] row * longest + position, the token's place in the padded batch, and
    // the one mask every row shares (undefined where the fused kernel fits).
    at::Tensor padded_index, padded_mask;
    // Attention per segment: each segment's mask (undefined where the fused kernel fits).
    std::vector<at::Tensor> masks;
    // Per segment: the cached prefix it continues (an index into external_keys), or -1; then per
    // cached prefix and layer, its keys and values [1, kv_heads, tokens, head_dim].
    std::vector<int> externals;
    std::vector<std::vector<at::Tensor>> external_keys, external_values;
    // The computed rows whose keys and values go to the prefix cache, and where each layer's go.
    at::Tensor capture_rows;
    std::vector<at::Tensor>* captured_keys = nullptr;
    std::vector<at::Tensor>* captured_values = nullptr;
  };

  DecoderModel(ModelConfig config, RotaryEmbedding rope, c10::Device device)
      : config_(std::move(config)), rope_(std::move(rope)), device_(device) {}

  // Load's last step: what ModelLoadOptions::cpu_matmul asks, with the layers' weights converted
  // for oneDNN where it may be used.
  void ChooseCpuMatmul(CpuMatmul requested);
  at::Tensor Embed(const at::Tensor& ids) const;  // [B, T] -> [B, T, hidden] on the device
  at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight) const;
  // With a cache (k_cache/v_cache non-null), x holds the new positions only
  // and the cache grows by them. An undefined mask asks for the fused kernel
  // (plain causal attention over x alone; RunLayers decides). With a packing,
  // x is [1, N, hidden] and each prompt attends within itself (the mask is unused).
  at::Tensor Attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& mask, at::Tensor* k_cache, at::Tensor* v_cache, const Packing* packing,
                       int layer_index) const;
  // Causal attention of q [B, heads, T, hd] over k, v [B, kv_heads, keys, hd]; an undefined mask
  // asks for the fused kernel. Returns [B, heads, T, hd].
  at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) const;
  // The same over packed q, k, v ([1, heads, N, hd]), each prompt within itself.
  at::Tensor AttendPacked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Packing& packing,
                          int layer_index) const;
  at::Tensor Mlp(const Layer& layer, const at::Tensor& x) const;
  // Additive [T, offset + T] mask for queries at positions [offset, offset + T):
  // causal, and limited to the sliding window if any.
  at::Tensor AttentionMask(int64_t length, int64_t offset = 0) const;
  // The decoder layers 1..deepest over h (positions [offset, offset + T), or
  // each packed prompt's own positions), handing each index's output to
  // `visit`. The last layer's output is handed over after the final norm.
  template <typename Visit>
  at::Tensor RunLayers(at::Tensor h, int deepest, int64_t offset, KvCache* cache, const Packing* packing,
                       Visit visit) const;

  ModelConfig config_;
  RotaryEmbedding rope_;
  c10::Device device_;
  c10::ScalarType dtype_ = c10::kFloat;
  bool padded_packed_attention_ = false;
  int64_t shared_prefix_min_tokens_ = 0;
  int64_t onednn_from_rows_ = 0;
  std::string cpu_matmul_choice_;
  at::Tensor embed_tokens_;  // [vocab, hidden]
  at::Tensor final_norm_;
  at::Tensor lm_head_;  // [vocab, hidden]; undefined unless loaded
  std::vector<Layer> layers_;
  // Keeps the memory-mapped weight files alive for in-place F32 tensors.
  std::vector<std::shared_ptr<const MappedFile>> mappings_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_DECODER_MODEL_H_
