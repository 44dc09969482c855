// model.safetensors.index.json from the fuzzer, in a directory with a valid config.json and two
// small shards: Checkpoint::Open must refuse the index with a status or map every tensor it names
// to a shard that holds it.
#include <filesystem>

#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "fuzz_input.h"

namespace {

// A safetensors file holding one F32 tensor of `n` zeros named `name`.
std::string OneTensorFile(const std::string& name, int n) {
  std::string header = "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(n) +
                       "],\"data_offsets\":[0," + std::to_string(4 * n) + "]}}";
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return out + header + std::string(4 * n, '\0');
}

const std::string& ModelDir() {
  static const std::string dir = [] {
    std::string d = sparsegate::fuzz::ScratchDir() + "/model";
    std::filesystem::create_directories(d);
    sparsegate::fuzz::WriteFile(d + "/config.json", R"({"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3",
      "hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,
      "head_dim":4,"vocab_size":32,"max_position_embeddings":64,"rms_norm_eps":1e-6,"rope_theta":10000.0})");
    sparsegate::fuzz::WriteFile(d + "/model-00001-of-00002.safetensors", OneTensorFile("model.embed_tokens.weight", 256));
    sparsegate::fuzz::WriteFile(d + "/model-00002-of-00002.safetensors", OneTensorFile("model.norm.weight", 8));
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = ModelDir();
  sparsegate::fuzz::WriteFile(dir + "/model.safetensors.index.json", sparsegate::fuzz::AsText(data, size));
  auto checkpoint = sparsegate::Checkpoint::Open(dir);
  if (!checkpoint.ok()) return 0;
  for (const char* name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}) {
    auto ref = (*checkpoint)->Find(name);
    if (ref.ok() && ref->view->nbytes > 0 && ref->view->data == nullptr) __builtin_trap();
  }
  return 0;
}
