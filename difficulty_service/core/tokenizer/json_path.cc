#include "difficulty_service/core/tokenizer/json_path.h"

namespace sparsegate {
namespace {

const nlohmann::json* Find(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

absl::Status RequireObject(const nlohmann::json& j, const JsonPath& at) {
  if (!j.is_object()) return at.Invalid(std::string("expected an object, found ") + j.type_name());
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const nlohmann::json& obj, const JsonPath& at, const char* key) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return at.Field(key).Invalid("missing required string");
  if (!v->is_string()) return at.Field(key).Invalid(std::string("expected a string, found ") + v->type_name());
  return v->get<std::string>();
}

absl::StatusOr<std::string> GetString(const nlohmann::json& obj, const JsonPath& at, const char* key,
                                      std::string fallback) {
  if (Find(obj, key) == nullptr) return fallback;
  return GetString(obj, at, key);
}

absl::StatusOr<bool> GetBool(const nlohmann::json& obj, const JsonPath& at, const char* key, bool fallback) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return at.Field(key).Invalid(std::string("expected a boolean, found ") + v->type_name());
  return v->get<bool>();
}

absl::StatusOr<int64_t> GetInt(const nlohmann::json& obj, const JsonPath& at, const char* key) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return at.Field(key).Invalid("missing required integer");
  if (!v->is_number_integer()) {
    return at.Field(key).Invalid(std::string("expected an integer, found ") + v->type_name());
  }
  return v->get<int64_t>();
}

absl::StatusOr<int64_t> GetInt(const nlohmann::json& obj, const JsonPath& at, const char* key,
                               int64_t fallback) {
  if (Find(obj, key) == nullptr) return fallback;
  return GetInt(obj, at, key);
}

absl::StatusOr<std::string> GetType(const nlohmann::json& obj, const JsonPath& at) {
  if (absl::Status s = RequireObject(obj, at); !s.ok()) return s;
  return GetString(obj, at, "type");
}

}  // namespace sparsegate
