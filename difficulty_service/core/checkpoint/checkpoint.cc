#include "difficulty_service/core/checkpoint/checkpoint.h"

#include <openssl/evp.h>

#include <filesystem>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/common/json_parse.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace fs = std::filesystem;

namespace {

absl::StatusOr<std::vector<std::string>> ShardsFromIndex(const std::string& index_path,
                                                         std::map<std::string, std::string>* weight_map) {
  absl::StatusOr<nlohmann::json> parsed = ParseJsonFile(index_path);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json index = *std::move(parsed);
  auto it = index.find("weight_map");
  if (it == index.end() || !it->is_object())
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": missing object 'weight_map'"));
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : it->items()) {
    if (!shard.is_string())
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": weight_map entry '", tensor, "' is not a file name"));
    const std::string file = shard.get<std::string>();
    if (file.find('/') != std::string::npos || file == "..")
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": shard '", file, "' must be a file name in the model directory"));
    (*weight_map)[tensor] = file;
    shards.insert(file);
  }
  return std::vector<std::string>(shards.begin(), shards.end());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  absl::StatusOr<FileKind> kind = KindOf(dir);
  if (!kind.ok()) return kind.status();
  if (*kind != FileKind::kDirectory) return absl::NotFoundError(absl::StrCat(QuotedPath(dir), ": not a model directory"));
  std::unique_ptr<Checkpoint> ckpt(new Checkpoint);
  ckpt->dir_ = dir;
  ckpt->config_path_ = (fs::path(dir) / "config.json").string();
  auto config = ModelConfig::FromFile(ckpt->config_path_);
  if (!config.ok()) return config.status();
  ckpt->config_ = *std::move(config);

  // Absent, or a regular file: a directory, FIFO or link loop named tokenizer.json is an error, not
  // a file to skip.
  auto present = [](const fs::path& p) -> absl::StatusOr<bool> {
    absl::StatusOr<FileKind> kind = KindOf(p.string());
    if (!kind.ok()) return kind.status();
    if (*kind == FileKind::kDirectory || *kind == FileKind::kOther)
      return absl::InvalidArgumentError(absl::StrCat(QuotedPath(p.string()), ": not a regular file"));
    return *kind == FileKind::kRegular;
  };
  for (auto [file, out] : {std::pair<const char*, std::string*>{"tokenizer.json", &ckpt->tokenizer_json_},
                           {"tokenizer_config.json", &ckpt->tokenizer_config_}}) {
    const fs::path p = fs::path(dir) / file;
    absl::StatusOr<bool> exists = present(p);
    if (!exists.ok()) return exists.status();
    if (*exists) *out = p.string();
  }

  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  absl::StatusOr<bool> has_single = present(single);
  if (!has_single.ok()) return has_single.status();
  absl::StatusOr<bool> has_index = *has_single ? false : present(index);
  if (!has_index.ok()) return has_index.status();
  if (*has_single) {
    shard_names.push_back("model.safetensors");
  } else if (*has_index) {
    auto shards = ShardsFromIndex(index.string(), &weight_map);
    if (!shards.ok()) return shards.status();
    shard_names = *std::move(shards);
  } else {
    return absl::NotFoundError(absl::StrCat(QuotedPath(dir), ": no model.safetensors or model.safetensors.index.json"));
  }

  for (const std::string& shard : shard_names) {
    auto file = SafetensorsFile::Open((fs::path(dir) / shard).string());
    if (!file.ok()) return file.status();
    const SafetensorsFile* f = file->get();
    for (const auto& [name, view] : f->tensors()) {
      // With an index, a shard's stray tensors not in weight_map are ignored, as transformers does.
      if (!weight_map.empty()) {
        auto it = weight_map.find(name);
        if (it == weight_map.end() || it->second != shard) continue;
      }
      if (!ckpt->weights_.emplace(name, WeightRef{&view, f}).second)
        return absl::InvalidArgumentError(absl::StrCat(f->path(), ": tensor '", name, "' appears in more than one weight file"));
    }
    ckpt->files_.push_back(*std::move(file));
  }
  for (const auto& [tensor, shard] : weight_map) {
    if (!ckpt->weights_.count(tensor))
      return absl::DataLossError(absl::StrCat(index.string(), ": weight_map puts '", tensor, "' in ", shard,
                                              " but that file has no such tensor"));
  }
  ckpt->ComputeDigest();
  return ckpt;
}

std::string Checkpoint::name() const {
  fs::path p = fs::path(dir_);
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;  // absolute() fails only when the working directory is gone
  const fs::path absolute = fs::absolute(p, ec);
  return (ec ? p : absolute).lexically_normal().filename().string();
}

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(weights_.size());
  for (const auto& [name, ref] : weights_) names.push_back(name);
  return names;
}

absl::StatusOr<WeightRef> Checkpoint::Find(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end())
    return absl::NotFoundError(absl::StrCat(dir_, ": tensor '", name, "' is missing from the weight files"));
  return it->second;
}

void Checkpoint::ComputeDigest() {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  auto add_named = [&](const std::string& name, const unsigned char* data, size_t size) {
    // Length-prefixed name so that moving bytes between files changes the digest.
    std::string tag = absl::StrCat(fs::path(name).filename().string(), ":", size, "\n");
    EVP_DigestUpdate(ctx.get(), tag.data(), tag.size());
    EVP_DigestUpdate(ctx.get(), data, size);
  };
  for (const std::string& path : {config_path_, tokenizer_json_, tokenizer_config_}) {
    if (path.empty()) continue;
    auto mapped = MappedFile::Open(path);
    if (mapped.ok()) add_named(path, (*mapped)->data(), (*mapped)->size());
  }
  for (const auto& file : files_) add_named(file->path(), file->file().data(), file->file().size());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* kHex = "0123456789abcdef";
  digest_ = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    digest_ += kHex[md[i] >> 4];
    digest_ += kHex[md[i] & 15];
  }
}

}  // namespace sparsegate
