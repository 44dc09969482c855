// JsonPath names one spot of a tokenizer.json ("qwen3/tokenizer.json: pre_tokenizer.
// pretokenizers[0].pattern") so that every load error says which file and which field is wrong.
// The typed getters read an optional or required field of a JSON object and return an error
// value naming that field when it has the wrong type.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_JSON_PATH_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_JSON_PATH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate {

class JsonPath {
 public:
  JsonPath(std::string source, std::string path) : source_(std::move(source)), path_(std::move(path)) {}

  JsonPath Field(std::string_view name) const {
    return JsonPath(source_, path_.empty() ? std::string(name) : path_ + "." + std::string(name));
  }
  JsonPath Index(size_t i) const { return JsonPath(source_, path_ + "[" + std::to_string(i) + "]"); }

  const std::string& source() const { return source_; }
  std::string ToString() const { return path_.empty() ? source_ : source_ + ": " + path_; }

  // "<file>: <path>: <what>" as InvalidArgument (malformed) or Unimplemented (valid but unsupported).
  absl::Status Invalid(std::string_view what) const {
    return absl::InvalidArgumentError(ToString() + ": " + std::string(what));
  }
  absl::Status Unsupported(std::string_view what) const {
    return absl::UnimplementedError(ToString() + ": " + std::string(what));
  }

 private:
  std::string source_;
  std::string path_;
};

// Field readers. `obj` must be a JSON object (checked by the caller or by RequireObject); a
// missing or null field yields `fallback` for the optional variants.
absl::Status RequireObject(const nlohmann::json& j, const JsonPath& at);
absl::StatusOr<std::string> GetString(const nlohmann::json& obj, const JsonPath& at, const char* key);
absl::StatusOr<std::string> GetString(const nlohmann::json& obj, const JsonPath& at, const char* key,
                                      std::string fallback);
absl::StatusOr<bool> GetBool(const nlohmann::json& obj, const JsonPath& at, const char* key, bool fallback);
absl::StatusOr<int64_t> GetInt(const nlohmann::json& obj, const JsonPath& at, const char* key);
absl::StatusOr<int64_t> GetInt(const nlohmann::json& obj, const JsonPath& at, const char* key,
                               int64_t fallback);
// The "type" field that every component carries.
absl::StatusOr<std::string> GetType(const nlohmann::json& obj, const JsonPath& at);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_JSON_PATH_H_
