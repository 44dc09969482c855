// A Hugging Face model directory on disk: config.json, the weights
// (model.safetensors, or shards listed by model.safetensors.index.json) and
// the tokenizer files.
//
// Open() validates what it can without knowing the architecture: the config,
// every safetensors header, and that the index's weight_map names only
// tensors that exist in the shard it points to. The model stage checks the
// tensors' names and shapes against the config.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_CHECKPOINT_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_CHECKPOINT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/checkpoint/model_config.h"
#include "difficulty_service/core/checkpoint/safetensors.h"

namespace sparsegate {

struct WeightRef {
  const TensorView* view;
  const SafetensorsFile* file;  // for error messages
};

class Checkpoint {
 public:
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  // Directory base name, the conventional model name.
  std::string name() const;
  // Empty when the directory has no tokenizer.json / tokenizer_config.json.
  const std::string& tokenizer_json_path() const { return tokenizer_json_; }
  const std::string& tokenizer_config_path() const { return tokenizer_config_; }

  // NotFound naming the tensor and the checked files when absent.
  absl::StatusOr<WeightRef> Find(const std::string& name) const;
  bool Has(const std::string& name) const { return weights_.count(name) > 0; }
  // Every tensor of the weight files (with an index, those its weight_map places), sorted.
  std::vector<std::string> TensorNames() const;

  // "sha256:<hex>" over config.json, the tokenizer files and every weight
  // file, in a fixed order; computed once by Open().
  const std::string& content_digest() const { return digest_; }

 private:
  Checkpoint() = default;
  void ComputeDigest();

  std::string dir_;
  ModelConfig config_;
  std::string config_path_;
  std::string tokenizer_json_;
  std::string tokenizer_config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, WeightRef> weights_;
  std::string digest_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_CHECKPOINT_H_
