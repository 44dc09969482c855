// The safetensors reader enforces the format's rules, and config.json
// parsing accepts both RoPE layouts and refuses what the forward cannot do.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/core/checkpoint/model_config.h"
#include "difficulty_service/core/checkpoint/safetensors.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sparsegate_ckpt_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes header length + header + data bytes exactly as given.
void WriteRaw(const std::string& path, const std::string& header, const std::string& data, int64_t length_override = -1) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = length_override >= 0 ? static_cast<uint64_t>(length_override) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

absl::Status OpenStatus(const std::string& path) {
  auto file = SafetensorsFile::Open(path);
  return file.ok() ? absl::OkStatus() : file.status();
}

void ExpectError(const absl::Status& status, const std::string& part) {
  EXPECT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find(part), std::string::npos) << "got: " << status.message();
}

TEST(Safetensors, ReadsAValidFile) {
  TempDir dir;
  std::string data(4 * 6 + 2 * 2, '\0');
  float values[6] = {1, 2, 3, 4, 5, 6};
  std::memcpy(data.data(), values, sizeof values);
  WriteRaw(dir.file("ok.safetensors"),
           R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
           R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]}})",
           data);
  auto file = SafetensorsFile::Open(dir.file("ok.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  const TensorView& w = (*file)->tensors().at("w");
  EXPECT_EQ(w.dtype, DType::kF32);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(reinterpret_cast<const float*>(w.data)[5], 6.0f);
  EXPECT_EQ((*file)->tensors().at("b").nbytes, 4u);
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
}

TEST(Safetensors, RejectsBrokenFilesByTheFormatsRules) {
  TempDir dir;
  const std::string f32x2 = std::string(8, '\0');
  struct Case {
    std::string name, header, data;
    int64_t length_override;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"too short", "", "", -2, "too short"},
      {"header past end", "{}", "", 1000, "runs past the end"},
      {"header over limit", "{}", "", 200'000'000, "exceeds the 100000000-byte limit"},
      {"not json", "{nope", "", -1, "not valid JSON"},
      {"not an object", "[1,2]", "", -1, "not a JSON object"},
      {"unknown dtype", R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", "ab", -1, "unknown dtype 'F8'"},
      {"negative dim", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2, -1, "non-negative"},
      {"size mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2, -1, "needs 12 bytes but data_offsets span 8"},
      {"offset past buffer", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32x2, -1, "past the 8-byte data buffer"},
      {"reversed", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32x2, -1, "reversed"},
      {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})",
       f32x2, -1, "starts at byte 8 but the previous tensor ends at 4"},
      {"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       f32x2, -1, "must be contiguous"},
      {"trailing bytes", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32x2, -1, "data buffer has 8 bytes"},
      {"duplicate name", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       f32x2, -1, "names tensor 'a' more than once"},
      {"bad metadata", R"({"__metadata__":{"k":1}})", "", -1, "not a string"},
      // Used to abort: nlohmann throws out_of_range, not parse_error, for a double overflow.
      {"number overflow", R"({"__metadata__":{"k":"v"},"x":1e400})", "", -1, "number overflow"},
      // Used to be accepted, then overflow the stack when copied or dumped.
      {"deep nesting", "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}", "", -1,
       "nested deeper than 512 levels"},
  };
  for (const Case& c : cases) {
    std::string path = dir.file("bad.safetensors");
    if (c.length_override == -2) {
      std::ofstream(path, std::ios::binary) << "abc";
    } else {
      WriteRaw(path, c.header, c.data, c.length_override);
    }
    absl::Status status = OpenStatus(path);
    ExpectError(status, c.expected);
    EXPECT_NE(std::string(status.message()).find(path), std::string::npos) << c.name << ": message names the file";
  }
  ExpectError(OpenStatus(dir.file("missing.safetensors")), "missing.safetensors");
}

TEST(ModelConfig, AcceptsBothRopeLayouts) {
  nlohmann::json base = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", 10},
                         {"hidden_size", 8}, {"intermediate_size", 16}, {"num_hidden_layers", 1},
                         {"num_attention_heads", 2}, {"max_position_embeddings", 64}};
  nlohmann::json legacy = base;
  legacy["rope_theta"] = 500000.0;
  legacy["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}};
  nlohmann::json modern = base;
  modern["rope_parameters"] = {{"rope_theta", 500000.0}, {"rope_type", "llama3"}, {"factor", 8.0},
                               {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 32}};
  for (const auto& j : {legacy, modern}) {
    auto c = ModelConfig::FromJson(j, "config.json");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->rope.type, RopeConfig::Type::kLlama3);
    EXPECT_EQ(c->rope.theta, 500000.0);
    EXPECT_EQ(c->rope.factor, 8.0);
    EXPECT_EQ(c->rope.original_max_position_embeddings, 32);
    EXPECT_EQ(c->num_key_value_heads, 2);  // defaults to the head count
    EXPECT_EQ(c->head_dim, 4);
  }
}

TEST(ModelConfig, RefusesWhatTheForwardCannotDo) {
  nlohmann::json j = {{"model_type", "llama"}, {"vocab_size", 10}, {"hidden_size", 8}, {"intermediate_size", 16},
                      {"num_hidden_layers", 1}, {"num_attention_heads", 2}};
  auto with = [&](const char* key, nlohmann::json value) {
    nlohmann::json copy = j;
    copy[key] = value;
    return ModelConfig::FromJson(copy, "config.json").status();
  };
  // The value is not echoed: a file standing in for config.json must not come back in the error.
  ExpectError(with("model_type", "gpt2"), "model_type is not supported (supported: qwen2, qwen3, llama, mistral)");
  ExpectError(with("hidden_act", "gelu"), "hidden_act is not supported");
  ExpectError(with("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}), "rope_type is not supported");
  ExpectError(with("num_key_value_heads", 3), "not a multiple");
  ExpectError(with("hidden_size", "eight"), "field 'hidden_size' has the wrong type");
  ExpectError(with("hidden_size", 0), "'hidden_size' must be a positive integer");
  // Used to be coerced or accepted, or to abort at start-up with bad_alloc and no field named.
  ExpectError(with("hidden_size", 64.5), "field 'hidden_size' has the wrong type (expected an integer, found number)");
  ExpectError(with("tie_word_embeddings", 1), "field 'tie_word_embeddings' has the wrong type");
  ExpectError(with("num_hidden_layers", 1000000000000000), "'num_hidden_layers' is 1000000000000000, outside [0, 1024]");
  ExpectError(with("head_dim", 1000000000000), "'head_dim' is 1000000000000, outside [0, 4096]");
  ExpectError(with("max_position_embeddings", -1), "'max_position_embeddings' is -1");
  ExpectError(with("max_position_embeddings", 0), "'max_position_embeddings' is 0; it must be a positive integer");
  ExpectError(with("rms_norm_eps", -1e-6), "'rms_norm_eps' is -1e-06; it must be a positive number");
  ExpectError(with("rms_norm_eps", 0), "'rms_norm_eps' is 0");
  ExpectError(with("rope_theta", -10000.0), "'rope_theta' is -10000");
}

TEST(ModelConfig, UnparseableNumbersAndDepthAreErrorsNamingTheFile) {
  TempDir dir;
  std::ofstream(dir.file("config.json")) << R"({"model_type": "llama", "vocab_size": 1e400})";
  ExpectError(ModelConfig::FromFile(dir.file("config.json")).status(), "config.json: not valid JSON");
  ExpectError(ModelConfig::FromFile(dir.file("config.json")).status(), "number overflow");
  std::ofstream(dir.file("config.json"), std::ios::trunc) << std::string(100000, '[') << std::string(100000, ']');
  ExpectError(ModelConfig::FromFile(dir.file("config.json")).status(), "nested deeper than 512 levels");
  std::ofstream(dir.file("model.safetensors.index.json")) << R"({"weight_map": {}, "metadata": {"total_size": 1e999}})";
  std::ofstream(dir.file("config.json"), std::ios::trunc)
      << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
             "num_hidden_layers": 1, "num_attention_heads": 2})";
  ExpectError(Checkpoint::Open(dir.path()).status(), "model.safetensors.index.json: not valid JSON");
}

TEST(Checkpoint, ShardIndexMustPointAtRealTensors) {
  TempDir dir;
  nlohmann::json config = {{"model_type", "llama"}, {"vocab_size", 10}, {"hidden_size", 8}, {"intermediate_size", 16},
                           {"num_hidden_layers", 1}, {"num_attention_heads", 2}};
  std::ofstream(dir.file("config.json")) << config.dump();
  WriteRaw(dir.file("model-00001-of-00001.safetensors"), R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
           std::string(4, '\0'));
  nlohmann::json index = {{"weight_map", {{"a", "model-00001-of-00001.safetensors"}, {"b", "model-00001-of-00001.safetensors"}}}};
  std::ofstream(dir.file("model.safetensors.index.json")) << index.dump();
  auto ckpt = Checkpoint::Open(dir.path());
  ExpectError(ckpt.status(), "weight_map puts 'b' in model-00001-of-00001.safetensors but that file has no such tensor");
}

}  // namespace
}  // namespace sparsegate
