#include "difficulty_service/core/model/decoder_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/model/cpu_allocator.h"
#include "difficulty_service/core/model/shared_prefixes.h"

namespace sparsegate {
namespace {

absl::StatusOr<at::ScalarType> ScalarTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kF32: return at::kFloat;
    case DType::kF16: return at::kHalf;
    case DType::kBF16: return at::kBFloat16;
    default: return absl::UnimplementedError(absl::StrCat("weight dtype ", DTypeName(dtype), " is not supported (F32, F16, BF16)"));
  }
}

// Loads weights by name, checking shapes against what config.json implies.
class WeightLoader {
 public:
  WeightLoader(const Checkpoint& checkpoint, c10::Device device, at::ScalarType dtype,
               std::vector<std::shared_ptr<const MappedFile>>* mappings)
      : checkpoint_(checkpoint), device_(device), dtype_(dtype), mappings_(mappings) {}

  // The tensor, when it exists with the shape config.json implies.
  absl::StatusOr<WeightRef> Find(const std::string& name, const std::vector<int64_t>& shape) const {
    auto ref = checkpoint_.Find(name);
    if (!ref.ok()) return ref.status();
    used_.insert(name);
    if (ref->view->shape != shape)
      return absl::InvalidArgumentError(absl::StrCat(ref->file->path(), ": tensor '", name, "' has shape ",
                                                     ref->view->ShapeString(), " but config.json implies [",
                                                     absl::StrJoin(shape, ", "), "]"));
    return ref;
  }

  absl::StatusOr<at::Tensor> Load(const std::string& name, std::vector<int64_t> shape) {
    auto ref = Find(name, shape);
    if (!ref.ok()) return ref.status();
    const TensorView& view = *ref->view;
    auto type = ScalarTypeOf(view.dtype);
    if (!type.ok()) return absl::Status(type.status().code(), absl::StrCat(ref->file->path(), ": tensor '", name, "': ", type.status().message()));
    const size_t element = DTypeSize(view.dtype);
    at::Tensor tensor;
    if (reinterpret_cast<uintptr_t>(view.data) % element == 0) {
      // In place: the mapping is read-only and the model never writes its weights.
      tensor = at::from_blob(const_cast<unsigned char*>(view.data), shape, at::TensorOptions().dtype(*type));
    } else {
      // A tensor after an odd-sized one can be misaligned; ATen kernels need alignment.
      tensor = at::empty(shape, at::TensorOptions().dtype(*type));
      std::memcpy(tensor.data_ptr(), view.data, view.nbytes);
    }
    // A NaN or Inf weight would be served as non-finite features for every prompt it touches.
    if (!at::isfinite(tensor).all().item<bool>())
      return absl::InvalidArgumentError(
          absl::StrCat(ref->file->path(), ": tensor '", name, "' holds NaN or infinite values"));
    if (*type != dtype_ || !device_.is_cpu()) {
      tensor = tensor.to(device_, dtype_);
      // F32 or BF16 values past float16's range would otherwise turn into infinities silently.
      if (dtype_ == at::kHalf && *type != at::kHalf && !at::isfinite(tensor).all().item<bool>())
        return absl::InvalidArgumentError(absl::StrCat(ref->file->path(), ": tensor '", name,
                                                       "' holds values past float16's range (compute in bfloat16 or float32)"));
    } else if (tensor.data_ptr() == static_cast<const void*>(view.data)) {
      mappings_->push_back(ref->file->shared_file());
    }
    return tensor;
  }

  // Biases are optional in the file only when the config says so.
  absl::StatusOr<at::Tensor> LoadIf(bool present, const std::string& name, std::vector<int64_t> shape) {
    if (!present) return at::Tensor();
    return Load(name, std::move(shape));
  }

  // Once every tensor the config implies is loaded: tensors left over mean that config.json does
  // not describe these weights (fewer layers than the file holds, biases it says are absent), and
  // the model would compute something other than what was trained. Rotary inv_freq buffers, which
  // older checkpoints saved and transformers skips, are not weights.
  absl::Status CheckNothingLeftOver() const {
    std::vector<std::string> left;
    for (const std::string& name : checkpoint_.TensorNames()) {
      if (used_.count(name) == 0 && !absl::EndsWith(name, ".rotary_emb.inv_freq")) left.push_back(name);
    }
    if (left.empty()) return absl::OkStatus();
    const size_t shown = std::min<size_t>(left.size(), 3);
    return absl::InvalidArgumentError(absl::StrCat(
        QuotedPath(checkpoint_.dir()), ": ", left.size(), " tensor(s) in the weight files are not part of the model config.json describes (",
        absl::StrJoin(left.begin(), left.begin() + shown, ", "), left.size() > shown ? ", ..." : "",
        "): config.json does not match the weights"));
  }

 private:
  const Checkpoint& checkpoint_;
  const c10::Device device_;
  const at::ScalarType dtype_;
  std::vector<std::shared_ptr<const MappedFile>>* mappings_;
  mutable std::set<std::string> used_;
};

// Refuses a (device, dtype) pair this libtorch cannot compute in before any weight is loaded
// (Debian's CPU libtorch 1.13 has no float16 matrix product).
absl::Status CheckComputeSupport(const c10::Device& device, at::ScalarType dtype) {
  try {
    at::Tensor probe = at::ones({2, 2}, at::TensorOptions().device(device).dtype(dtype));
    at::linear(probe, probe).sum().item<double>();
  } catch (const c10::Error& e) {
    return absl::UnimplementedError(absl::StrCat("this libtorch cannot compute in ", ComputeDtypeName(dtype), " on ",
                                                 device.str(), ": ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

// Whether plain causal attention over `length` positions (no sliding window cutting it) can go to
// the fused kernel.
bool FusedAttentionFits(const ModelConfig& config, int64_t length) {
  return SPARSEGATE_HAVE_SDPA && (config.sliding_window <= 0 || length <= config.sliding_window);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecoderModel>> DecoderModel::Load(const Checkpoint& checkpoint,
                                                                 const ModelLoadOptions& options) {
  c10::InferenceMode guard;
  if (options.device.is_cpu()) KeepLargeTensorsInHeap();
  const ModelConfig& c = checkpoint.config();
  std::unique_ptr<DecoderModel> model(new DecoderModel(c, RotaryEmbedding(c.rope, c.head_dim), options.device));
  // The embedding table's dtype stands for the checkpoint's (Hugging Face's torch_dtype="auto").
  auto embedding = checkpoint.Find("model.embed_tokens.weight");
  if (!embedding.ok()) return embedding.status();
  auto stored = ScalarTypeOf(embedding->view->dtype);
  model->dtype_ = ResolveComputeDtype(options.dtype, stored.ok() ? *stored : at::kFloat, options.device);
  model->padded_packed_attention_ = options.packed_attention == PackedAttention::kPadded ||
                                    (options.packed_attention == PackedAttention::kAuto && !options.device.is_cpu());
  model->shared_prefix_min_tokens_ = model->padded_packed_attention_ ? 0 : options.shared_prefix_min_tokens;
  if (absl::Status supported = CheckComputeSupport(options.device, model->dtype_); !supported.ok()) return supported;
  if (options.cpu_matmul == CpuMatmul::kOneDnn) {
    if (!options.device.is_cpu() || model->dtype_ != at::kFloat)
      return absl::InvalidArgumentError(absl::StrCat("oneDNN products (cpu matmul onednn) are for float32 on the CPU, not ",
                                                     ComputeDtypeName(model->dtype_), " on ", options.device.str()));
    if (!at::hasMKLDNN()) return absl::UnimplementedError("this libtorch was built without oneDNN (MKL-DNN)");
  }
  WeightLoader loader(checkpoint, options.device, model->dtype_, &model->mappings_);
  const int64_t H = c.hidden_size, I = c.intermediate_size, hd = c.head_dim;
  const int64_t q_out = c.num_attention_heads * hd, kv_out = c.num_key_value_heads * hd;

  absl::Status status;
  auto load = [&](at::Tensor* out, absl::StatusOr<at::Tensor> result) {
    if (!status.ok()) return;
    if (result.ok()) *out = *std::move(result);
    else status = result.status();
  };
  load(&model->embed_tokens_, loader.Load("model.embed_tokens.weight", {c.vocab_size, H}));
  load(&model->final_norm_, loader.Load("model.norm.weight", {H}));
  model->layers_.resize(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers && status.ok(); ++i) {
    Layer& L = model->layers_[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    load(&L.input_norm, loader.Load(p + "input_layernorm.weight", {H}));
    load(&L.post_attention_norm, loader.Load(p + "post_attention_layernorm.weight", {H}));
    load(&L.q_norm, loader.LoadIf(c.qk_norm, p + "self_attn.q_norm.weight", {hd}));
    load(&L.k_norm, loader.LoadIf(c.qk_norm, p + "self_attn.k_norm.weight", {hd}));
    struct Shape {
      Projection* projection;
      const char* name;
      int64_t out, in;
      bool bias;
    };
    for (const Shape& s : {Shape{&L.q_proj, "self_attn.q_proj", q_out, H, c.attention_bias},
                           Shape{&L.k_proj, "self_attn.k_proj", kv_out, H, c.attention_bias},
                           Shape{&L.v_proj, "self_attn.v_proj", kv_out, H, c.attention_bias},
                           Shape{&L.o_proj, "self_attn.o_proj", H, q_out, c.o_proj_bias},
                           Shape{&L.gate_proj, "mlp.gate_proj", I, H, c.mlp_bias},
                           Shape{&L.up_proj, "mlp.up_proj", I, H, c.mlp_bias},
                           Shape{&L.down_proj, "mlp.down_proj", H, I, c.mlp_bias}}) {
      load(&s.projection->weight, loader.Load(absl::StrCat(p, s.name, ".weight"), {s.out, s.in}));
      load(&s.projection->bias, loader.LoadIf(s.bias, absl::StrCat(p, s.name, ".bias"), {s.out}));
    }
  }
  if (!status.ok()) return status;
  model->ChooseCpuMatmul(options.cpu_matmul);
  // The LM head is not needed for hidden states, but a checkpoint whose head disagrees with its config is broken.
  if (!c.tie_word_embeddings || checkpoint.Has("lm_head.weight")) {
    if (options.lm_head) {
      load(&model->lm_head_, loader.Load("lm_head.weight", {c.vocab_size, H}));
    } else if (auto head = loader.Find("lm_head.weight", {c.vocab_size, H}); !head.ok()) {
      status = head.status();
    }
    if (!status.ok()) return status;
  } else if (options.lm_head) {
    model->lm_head_ = model->embed_tokens_;  // tied
  }
  if (absl::Status left = loader.CheckNothingLeftOver(); !left.ok()) return left;
  return model;
}

void DecoderModel::ChooseCpuMatmul(CpuMatmul requested) {
  const bool float32_cpu = device_.is_cpu() && dtype_ == at::kFloat;
  if (requested == CpuMatmul::kBlas || (requested == CpuMatmul::kAuto && (!float32_cpu || !at::hasMKLDNN()))) {
    cpu_matmul_choice_ = float32_cpu ? "the BLAS" : "";
    return;
  }
  auto convert = [](Layer& L) {
    for (Projection* p : L.projections()) p->onednn = p->weight.contiguous().to_mkldnn();
  };
  if (requested == CpuMatmul::kOneDnn) {
    // Every product goes to oneDNN: the dense weights are not needed (those not mapped from the
    // files are memory of their own).
    for (Layer& L : layers_) {
      convert(L);
      for (Projection* p : L.projections()) p->weight = at::Tensor();
    }
    onednn_from_rows_ = 1;
    cpu_matmul_choice_ = "oneDNN (asked for)";
    return;
  }
  if (layers_.empty()) return;
  // The probe needs the first layer in both layouts; the other layers are converted only if it
  // chooses oneDNN.
  Layer& first = layers_.front();
  convert(first);
  const std::vector<Projection*> projections = first.projections();
  // With the threads the batcher's worker gives the forward by default: one per available core.
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const OneDnnProbe probe = ProbeOneDnn({projections.begin(), projections.end()}, threads);
  onednn_from_rows_ = probe.onednn_from_rows;
  cpu_matmul_choice_ = probe.Describe();
  if (onednn_from_rows_ == 0) {
    for (Projection* p : projections) p->onednn = at::Tensor();
    return;
  }
  for (size_t i = 1; i < layers_.size(); ++i) convert(layers_[i]);
}

at::Tensor DecoderModel::Embed(const at::Tensor& ids) const {
  const int64_t B = ids.size(0), T = ids.size(1);
  return embed_tokens_.index_select(0, ids.to(device_).reshape({-1})).view({B, T, config_.hidden_size});
}

// As Hugging Face's LlamaRMSNorm: normalized in float32, cast back, then scaled (no-ops in float32).
at::Tensor DecoderModel::RmsNorm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  return (x32 * at::rsqrt(variance + config_.rms_norm_eps)).to(x.scalar_type()) * weight;
}

at::Tensor DecoderModel::AttentionMask(int64_t T, int64_t offset) const {
  const auto on_device = at::TensorOptions().device(device_);
  at::Tensor i = at::arange(offset, offset + T, on_device.dtype(at::kLong)).unsqueeze(1);  // query position
  at::Tensor j = at::arange(offset + T, on_device.dtype(at::kLong)).unsqueeze(0);          // key position
  at::Tensor allowed = j <= i;
  if (config_.sliding_window > 0) allowed = allowed.logical_and(i - j < config_.sliding_window);
  at::Tensor mask = at::zeros({T, offset + T}, on_device.dtype(at::kFloat));
  return mask.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
}

at::Tensor DecoderModel::Attention(const Layer& L, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                   const at::Tensor& mask, at::Tensor* k_cache, at::Tensor* v_cache,
                                   const Packing* packing, int layer_index) const {
  const int64_t B = x.size(0), T = x.size(1), hd = config_.head_dim;
  const int64_t nh = config_.num_attention_heads, nkv = config_.num_key_value_heads;
  at::Tensor q = Project(x, L.q_proj, onednn_from_rows_).view({B, T, nh, hd});
  at::Tensor k = Project(x, L.k_proj, onednn_from_rows_).view({B, T, nkv, hd});
  at::Tensor v = Project(x, L.v_proj, onednn_from_rows_).view({B, T, nkv, hd});
  if (config_.qk_norm) {
    q = RmsNorm(q, L.q_norm);
    k = RmsNorm(k, L.k_norm);
  }
  q = RotaryEmbedding::Apply(q.transpose(1, 2), cos, sin);  // [B, nh, T, hd]
  k = RotaryEmbedding::Apply(k.transpose(1, 2), cos, sin);  // [B, nkv, T, hd]
  v = v.transpose(1, 2);
  if (k_cache != nullptr) {
    if (k_cache->defined()) {
      k = at::cat({*k_cache, k}, 2);
      v = at::cat({*v_cache, v}, 2);
    }
    *k_cache = k;
    *v_cache = v;
  }
  if (packing != nullptr && packing->capture_rows.defined()) {
    (*packing->captured_keys)[layer_index] = k.index_select(2, packing->capture_rows);
    (*packing->captured_values)[layer_index] = v.index_select(2, packing->capture_rows);
  }
  at::Tensor out = packing ? AttendPacked(q, k, v, *packing, layer_index) : Attend(q, k, v, mask);  // [B, nh, T, hd]
  return Project(out.transpose(1, 2).reshape({B, T, nh * hd}), L.o_proj, onednn_from_rows_);
}

at::Tensor DecoderModel::Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& mask) const {
  const int64_t B = q.size(0), T = q.size(2), hd = config_.head_dim;
  const int64_t nh = config_.num_attention_heads, nkv = config_.num_key_value_heads, groups = nh / nkv;
  if (!mask.defined()) {
#if SPARSEGATE_HAVE_SDPA
    // The fused kernel (flash or memory-efficient attention on a GPU); it takes K/V per query head.
    auto per_head = [&](const at::Tensor& t) {  // [B, nkv, T, hd] -> [B, nh, T, hd]
      return groups == 1 ? t : t.unsqueeze(2).expand({B, nkv, groups, T, hd}).reshape({B, nh, T, hd});
    };
    return at::scaled_dot_product_attention(q, per_head(k), per_head(v), /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                            /*is_causal=*/true);
#endif
  }
  // Grouped-query attention without copying K/V per head: the query heads of a group share one
  // K/V head through broadcasting. Softmax in float32, as Hugging Face's eager path.
  at::Tensor qg = q.reshape({B, nkv, groups, T, hd});
  at::Tensor scores = at::matmul(qg, k.unsqueeze(2).transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(hd)));
  at::Tensor probs = at::softmax(scores.to(at::kFloat) + mask, -1).to(q.scalar_type());  // [B, nkv, groups, T, keys]
  return at::matmul(probs, v.unsqueeze(2)).reshape({B, nh, T, hd});
}

at::Tensor DecoderModel::AttendPacked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const Packing& packing, int layer_index) const {
  const int64_t rows = static_cast<int64_t>(packing.lengths.size()), longest = packing.longest;
  const int64_t hd = config_.head_dim, nh = config_.num_attention_heads;
  if (padded_packed_attention_) {
    // Right padding is invisible to causal attention, so the padded rows' outputs at real
    // positions are exact; the padded positions are dropped again. Every row starts at position
    // 0, so one causal (and sliding-window) mask serves them all where the fused kernel cannot.
    auto pad = [&](const at::Tensor& t) {  // [1, heads, N, hd] -> [rows, heads, longest, hd]
      const int64_t heads = t.size(1);
      at::Tensor padded = at::zeros({heads, rows * longest, hd}, t.options());
      padded.index_copy_(1, packing.padded_index, t[0]);
      return padded.view({heads, rows, longest, hd}).transpose(0, 1);
    };
    at::Tensor out = Attend(pad(q), pad(k), pad(v), packing.padded_mask);  // [rows, nh, longest, hd]
    return out.transpose(0, 1).reshape({nh, rows * longest, hd}).index_select(1, packing.padded_index).unsqueeze(0);
  }
  std::vector<at::Tensor> outs;
  outs.reserve(packing.lengths.size());
  std::vector<int64_t> starts;
  starts.reserve(packing.lengths.size());
  int64_t start = 0;
  for (size_t row = 0; row < packing.lengths.size(); ++row) {
    const int64_t length = packing.lengths[row];
    starts.push_back(start);
    at::Tensor keys = k.narrow(2, start, length), values = v.narrow(2, start, length);
    if (const int parent = packing.parents[row]; parent >= 0) {  // the shared prefix's keys come first
      keys = at::cat({k.narrow(2, starts[parent], packing.lengths[parent]), keys}, 2);
      values = at::cat({v.narrow(2, starts[parent], packing.lengths[parent]), values}, 2);
    } else if (const int external = packing.externals[row]; external >= 0) {  // a cached prefix's
      keys = at::cat({packing.external_keys[external][layer_index], keys}, 2);
      values = at::cat({packing.external_values[external][layer_index], values}, 2);
    }
    outs.push_back(Attend(q.narrow(2, start, length), keys, values, packing.masks[row]));
    start += length;
  }
  return outs.size() == 1 ? outs[0] : at::cat(outs, 2);
}

at::Tensor DecoderModel::Mlp(const Layer& L, const at::Tensor& x) const {
  at::Tensor gate = at::silu(Project(x, L.gate_proj, onednn_from_rows_));
  return Project(gate * Project(x, L.up_proj, onednn_from_rows_), L.down_proj, onednn_from_rows_);
}

template <typename Visit>
at::Tensor DecoderModel::RunLayers(at::Tensor h, int deepest, int64_t offset, KvCache* cache, const Packing* packing,
                                   Visit visit) const {
  const int64_t T = h.size(1);
  at::Tensor cos, sin, mask;
  if (packing != nullptr) {
    auto [cos_all, sin_all] = rope_.Table(packing->longest);  // float32 on the CPU, cast as Hugging Face casts them
    cos = cos_all.to(device_).index_select(0, packing->positions).to(dtype_);
    sin = sin_all.to(device_).index_select(0, packing->positions).to(dtype_);
  } else {
    auto [cos_all, sin_all] = rope_.Table(offset + T);
    cos = cos_all.narrow(0, offset, T).to(device_, dtype_);
    sin = sin_all.narrow(0, offset, T).to(device_, dtype_);
    // Plain causal attention over the new positions alone (a prefill that no sliding window cuts)
    // goes to the fused kernel where this ATen has one, and needs no mask.
    if (cache != nullptr || !FusedAttentionFits(config_, T)) mask = AttentionMask(T, offset);
  }
  const int last = num_layers();
  if (cache != nullptr && cache->keys.empty()) {
    cache->keys.resize(last);
    cache->values.resize(last);
  }
  for (int i = 1; i <= deepest; ++i) {
    const Layer& layer = layers_[i - 1];
    at::Tensor* k = cache ? &cache->keys[i - 1] : nullptr;
    at::Tensor* v = cache ? &cache->values[i - 1] : nullptr;
    h = h + Attention(layer, RmsNorm(h, layer.input_norm), cos, sin, mask, k, v, packing, i - 1);
    h = h + Mlp(layer, RmsNorm(h, layer.post_attention_norm));
    visit(i, i == last ? RmsNorm(h, final_norm_) : h);
  }
  return h;
}

std::map<int, at::Tensor> DecoderModel::HiddenStates(const at::Tensor& ids, const std::vector<int>& indices) const {
  c10::InferenceMode guard;
  std::map<int, at::Tensor> out;
  if (indices.empty()) return out;
  const int deepest = *std::max_element(indices.begin(), indices.end());
  auto wanted = [&](int index) { return std::find(indices.begin(), indices.end(), index) != indices.end(); };

  at::Tensor h = Embed(ids);
  if (wanted(0)) out[0] = h;
  RunLayers(h, deepest, /*offset=*/0, /*cache=*/nullptr, /*packing=*/nullptr, [&](int index, const at::Tensor& state) {
    if (wanted(index)) out[index] = state;
  });
  return out;
}

std::map<int, at::Tensor> DecoderModel::PackedHiddenStates(const at::Tensor& ids, const std::vector<int64_t>& lengths,
                                                           const std::vector<int>& indices, int64_t* computed_tokens,
                                                           PrefixCache* cache) const {
  c10::InferenceMode guard;
  std::map<int, at::Tensor> out;
  if (indices.empty() || lengths.empty()) return out;
  const size_t prompts = lengths.size();
  std::vector<int64_t> starts(prompts);
  int64_t total = 0;
  for (size_t p = 0; p < prompts; ++p) {
    TORCH_CHECK(lengths[p] >= 1, "PackedHiddenStates: a prompt of ", lengths[p], " tokens");
    starts[p] = total;
    total += lengths[p];
  }
  TORCH_CHECK(total == ids.numel(), "PackedHiddenStates: the lengths sum to ", total, " tokens, ids hold ",
              ids.numel());
  const int deepest = *std::max_element(indices.begin(), indices.end());
  auto wanted = [&](int index) { return std::find(indices.begin(), indices.end(), index) != indices.end(); };
  const at::Tensor host_ids = ids.to(at::kCPU, at::kLong).contiguous();
  const int64_t* source = host_ids.data_ptr<int64_t>();

  // The prefix cache's blocks each prompt begins with; a prompt keeps at least its last token to
  // compute, so that every prompt has a segment of its own.
  const bool caching = cache != nullptr && cache->options().max_bytes > 0 && !padded_packed_attention_;
  const int64_t block = caching ? cache->options().block_tokens : 0;
  std::vector<std::vector<uint64_t>> chains(prompts);
  std::vector<std::vector<std::shared_ptr<const PrefixCache::Block>>> hits(prompts);
  std::vector<int64_t> cached(prompts, 0);
  if (caching) {
    for (size_t p = 0; p < prompts; ++p) {
      chains[p] = cache->ChainHashes(source + starts[p], lengths[p]);
      hits[p] = cache->Lookup(chains[p], (lengths[p] - 1) / block, deepest, indices);
      cached[p] = static_cast<int64_t>(hits[p].size()) * block;
    }
  }

  // The prompts with nothing cached share prefixes within the batch (shared_prefixes.h); each
  // prompt with a cached beginning is one segment after it, attending to the cached keys first.
  const bool any_cached = std::any_of(cached.begin(), cached.end(), [](int64_t c) { return c > 0; });
  std::vector<size_t> fresh;
  std::vector<int64_t> fresh_ids, fresh_lengths;
  for (size_t p = 0; p < prompts; ++p) {
    if (cached[p] > 0) continue;
    fresh.push_back(p);
    fresh_lengths.push_back(lengths[p]);
    if (any_cached) fresh_ids.insert(fresh_ids.end(), source + starts[p], source + starts[p] + lengths[p]);
  }
  const int64_t* fresh_source = any_cached ? fresh_ids.data() : source;  // all prompts are fresh without hits
  const PrefixPlan plan = fresh.empty() ? PrefixPlan{}
                                        : PlanSharedPrefixes(fresh_source, fresh_lengths, shared_prefix_min_tokens_);
  Packing packing;
  packing.longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<int64_t> positions, padded_index, computed_ids;
  auto add_segment = [&](const int64_t* tokens, int64_t length, int64_t position, int parent, int external) {
    const int64_t row = static_cast<int64_t>(packing.lengths.size());
    packing.lengths.push_back(length);
    packing.parents.push_back(parent);
    packing.externals.push_back(external);
    for (int64_t t = 0; t < length; ++t) {
      positions.push_back(position + t);
      computed_ids.push_back(tokens[t]);
      if (padded_packed_attention_) padded_index.push_back(row * packing.longest + t);
    }
  };
  std::vector<PrefixPlan::Segment> segments = plan.segments;
  for (const PrefixPlan::Segment& segment : plan.segments) {
    add_segment(fresh_source + segment.source_start, segment.length, segment.position, segment.parent, -1);
  }
  // Every input token's row: computed rows first, then the cached blocks' states ("the pool").
  std::vector<int64_t> rows(static_cast<size_t>(total));
  for (size_t k = 0, offset = 0; k < fresh.size(); offset += static_cast<size_t>(lengths[fresh[k]]), ++k) {
    std::copy_n(plan.rows.begin() + static_cast<int64_t>(offset), lengths[fresh[k]], rows.begin() + starts[fresh[k]]);
  }
  std::vector<size_t> continued;  // the prompts with a cached beginning, in input order
  for (size_t p = 0; p < prompts; ++p) {
    if (cached[p] == 0) continue;
    const int64_t first_row = static_cast<int64_t>(computed_ids.size());
    segments.push_back({starts[p] + cached[p], lengths[p] - cached[p], cached[p], -1});
    add_segment(source + starts[p] + cached[p], lengths[p] - cached[p], cached[p], -1,
                static_cast<int>(continued.size()));
    for (int64_t t = cached[p]; t < lengths[p]; ++t) rows[starts[p] + t] = first_row + t - cached[p];
    continued.push_back(p);
  }
  const int64_t computed = static_cast<int64_t>(computed_ids.size());
  if (computed_tokens != nullptr) *computed_tokens = computed;
  for (size_t e = 0, pool = 0; e < continued.size(); ++e) {
    const size_t p = continued[e];
    for (int64_t t = 0; t < cached[p]; ++t) rows[starts[p] + t] = computed + static_cast<int64_t>(pool) + t;
    pool += static_cast<size_t>(cached[p]);
    std::vector<at::Tensor> keys(deepest), values(deepest);
    for (int l = 0; l < deepest; ++l) {
      std::vector<at::Tensor> k, v;
      for (const auto& b : hits[p]) {
        k.push_back(b->keys[l]);
        v.push_back(b->values[l]);
      }
      keys[l] = k.size() == 1 ? k[0] : at::cat(k, 2);
      values[l] = v.size() == 1 ? v[0] : at::cat(v, 2);
    }
    packing.external_keys.push_back(std::move(keys));
    packing.external_values.push_back(std::move(values));
  }

  packing.positions = at::tensor(positions, at::kLong).to(device_);
  if (padded_packed_attention_) {  // never shares: every segment is a whole prompt at position 0
    packing.padded_index = at::tensor(padded_index, at::kLong).to(device_);
    packing.padded_mask = FusedAttentionFits(config_, packing.longest) ? at::Tensor() : AttentionMask(packing.longest);
  } else {
    // Segments of one length and offset share a mask. A segment after a prefix always takes an
    // explicit one: the fused kernel's causal mask assumes queries and keys start together.
    std::map<std::pair<int64_t, int64_t>, at::Tensor> masks;
    for (const PrefixPlan::Segment& segment : segments) {
      auto [it, added] = masks.try_emplace({segment.length, segment.position});
      if (added && (segment.position > 0 || !FusedAttentionFits(config_, segment.length))) {
        it->second = AttentionMask(segment.length, segment.position);
      }
      packing.masks.push_back(it->second);
    }
  }

  // The blocks to store: those the cache admits, each once, from the rows that computed them.
  struct Store {
    uint64_t hash;
    size_t prompt;
    int64_t block;
  };
  std::vector<Store> stores;
  std::vector<int64_t> capture;
  std::vector<at::Tensor> captured_keys, captured_values;
  std::map<int, at::Tensor> captured_states;
  if (caching) {
    std::vector<int64_t> first(prompts);
    for (size_t p = 0; p < prompts; ++p) first[p] = static_cast<int64_t>(hits[p].size());
    const std::vector<std::vector<bool>> admitted = cache->Admit(chains, first);
    std::set<uint64_t> taken;
    for (size_t p = 0; p < prompts; ++p) {
      for (size_t k = 0; k < admitted[p].size(); ++k) {
        const int64_t b = first[p] + static_cast<int64_t>(k);
        if (!admitted[p][k] || !taken.insert(chains[p][b]).second) continue;
        stores.push_back({chains[p][b], p, b});
        for (int64_t t = 0; t < block; ++t) capture.push_back(rows[starts[p] + b * block + t]);
      }
    }
    if (!stores.empty()) {
      captured_keys.resize(deepest);
      captured_values.resize(deepest);
      packing.capture_rows = at::tensor(capture, at::kLong).to(device_);
      packing.captured_keys = &captured_keys;
      packing.captured_values = &captured_values;
    }
  }

  // The cached blocks' states per index, after the computed rows.
  auto pool = [&](int index) {
    std::vector<at::Tensor> parts;
    for (size_t p : continued) {
      for (const auto& b : hits[p]) parts.push_back(b->states.at(index));
    }
    return at::cat(parts, 0);
  };
  const bool remap = plan.shares() || !continued.empty();
  const at::Tensor row_index = remap ? at::tensor(rows, at::kLong).to(device_) : at::Tensor();
  auto keep = [&](int index, const at::Tensor& state) {  // state: [1, computed, hidden]
    if (!wanted(index)) return;
    if (packing.capture_rows.defined()) captured_states[index] = state[0].index_select(0, packing.capture_rows);
    if (!remap) {
      out[index] = state[0];
    } else {
      out[index] = (continued.empty() ? state[0] : at::cat({state[0], pool(index)}, 0)).index_select(0, row_index);
    }
  };
  at::Tensor h = Embed(at::tensor(computed_ids, at::kLong).view({1, -1}));  // [1, computed, hidden]
  keep(0, h);
  RunLayers(h, deepest, /*offset=*/0, /*cache=*/nullptr, &packing, keep);

  for (size_t k = 0; k < stores.size(); ++k) {
    auto stored = std::make_shared<PrefixCache::Block>();
    stored->depth = deepest;
    const int64_t at_row = static_cast<int64_t>(k) * block;
    for (int l = 0; l < deepest; ++l) {
      stored->keys.push_back(captured_keys[l].narrow(2, at_row, block).clone());
      stored->values.push_back(captured_values[l].narrow(2, at_row, block).clone());
    }
    for (const auto& [index, state] : captured_states) stored->states[index] = state.narrow(0, at_row, block).clone();
    cache->Insert(stores[k].hash, std::move(stored));
  }
  return out;
}

int64_t DecoderModel::ForwardBytesPerToken(int64_t longest, int kept_states) const {
  const int64_t e = c10::elementSize(dtype_), f = sizeof(float);
  const int64_t d = config_.hidden_size, hd = config_.head_dim, inter = config_.intermediate_size;
  const int64_t nh = config_.num_attention_heads, nkv = config_.num_key_value_heads;
  const bool fused = FusedAttentionFits(config_, longest);
  // Alive through every layer: the kept states, h and h + the layer's output, the normed input.
  const int64_t resident = (kept_states + 3) * d * e;
  const int64_t norm = 3 * d * f + d * e;
  const int64_t qkv = (nh + 2 * nkv) * hd * e;
  // RoPE's rotated copy and two products for Q and K; the zero-padded Q/K/V and output of a packed
  // batch where attention runs padded (AttendPacked); the per-head K/V copies of the fused kernel,
  // or the scores of the explicit one (in the compute dtype, as float32, plus the mask, softmax,
  // probabilities); then the output and its transposed copy.
  const int64_t rope = 3 * (nh + nkv) * hd * e;
  const int64_t qk_norm = config_.qk_norm ? 3 * (nh + nkv) * hd * f : 0;
  const int64_t padded_copies = padded_packed_attention_ ? (2 * nh + 2 * nkv) * hd * e : 0;
  const int64_t core = fused ? 2 * nh * hd * e : nh * longest * (2 * e + 3 * f) + longest * f;
  const int64_t attention = qkv + std::max(qk_norm, rope) + padded_copies + core + 2 * nh * hd * e + d * e;
  const int64_t mlp = 3 * inter * e + d * e;
  return resident + std::max({norm, attention, mlp});
}

void DecoderModel::KvCache::RepeatRows(int64_t times) {
  for (auto* list : {&keys, &values})
    for (at::Tensor& t : *list) t = t.repeat_interleave(times, 0);
}

at::Tensor DecoderModel::NextTokenLogits(const at::Tensor& ids, KvCache* cache) const {
  c10::InferenceMode guard;
  TORCH_CHECK(lm_head_.defined(), "NextTokenLogits needs the LM head: load with ModelLoadOptions{.lm_head = true}");
  const int64_t T = ids.size(1);
  at::Tensor h = Embed(ids);
  at::Tensor last;
  RunLayers(h, num_layers(), cache->length(), cache, /*packing=*/nullptr, [&](int index, const at::Tensor& state) {
    if (index == num_layers()) last = state.select(1, T - 1);
  });
  return at::matmul(last, lm_head_.t()).to(at::kCPU, at::kFloat);
}

}  // namespace sparsegate
