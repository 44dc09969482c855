#include "difficulty_service/core/tokenizer/post_processor.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace sparsegate {
namespace {

// The single-sequence template, flattened: the ids to put before and after the sequence.
class FramingPostProcessor : public PostProcessor {
 public:
  FramingPostProcessor(std::vector<int32_t> before, std::vector<int32_t> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  void Process(std::vector<int32_t>* ids, bool add_special_tokens) const override {
    if (!add_special_tokens) return;
    ids->insert(ids->begin(), before_.begin(), before_.end());
    ids->insert(ids->end(), after_.begin(), after_.end());
  }

 private:
  std::vector<int32_t> before_;
  std::vector<int32_t> after_;
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  void Process(std::vector<int32_t>* ids, bool add_special_tokens) const override {
    for (const auto& p : parts_) p->Process(ids, add_special_tokens);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

absl::StatusOr<int32_t> ReadId(const nlohmann::json& j, const JsonPath& at) {
  if (!j.is_number_integer() || j.get<int64_t>() < 0 || j.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
    return at.Invalid("expected a non-negative token id, found " + j.dump());
  }
  return static_cast<int32_t>(j.get<int64_t>());
}

absl::StatusOr<std::unique_ptr<PostProcessor>> MakeTemplate(const nlohmann::json& j, const JsonPath& at) {
  const JsonPath single_at = at.Field("single");
  auto single = j.find("single");
  if (single == j.end() || !single->is_array()) return single_at.Invalid("expected an array of template pieces");
  const nlohmann::json special_tokens = j.value("special_tokens", nlohmann::json::object());
  if (!special_tokens.is_object()) return at.Field("special_tokens").Invalid("expected an object");

  std::vector<int32_t> before, after;
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const nlohmann::json& piece = (*single)[i];
    const JsonPath piece_at = single_at.Index(i);
    if (piece.is_object() && piece.contains("Sequence")) {
      const JsonPath seq_at = piece_at.Field("Sequence");
      if (absl::Status s = RequireObject(piece["Sequence"], seq_at); !s.ok()) return s;
      absl::StatusOr<std::string> id = GetString(piece["Sequence"], seq_at, "id");
      if (!id.ok()) return id.status();
      if (*id != "A") return seq_at.Field("id").Invalid("a single-sequence template can only hold sequence A");
      if (seen_sequence) return seq_at.Invalid("sequence A appears twice");
      seen_sequence = true;
    } else if (piece.is_object() && piece.contains("SpecialToken")) {
      const JsonPath tok_at = piece_at.Field("SpecialToken");
      if (absl::Status s = RequireObject(piece["SpecialToken"], tok_at); !s.ok()) return s;
      absl::StatusOr<std::string> name = GetString(piece["SpecialToken"], tok_at, "id");
      if (!name.ok()) return name.status();
      auto entry = special_tokens.find(*name);
      if (entry == special_tokens.end() || !entry->is_object() || !entry->contains("ids") ||
          !(*entry)["ids"].is_array()) {
        return tok_at.Invalid("special token \"" + *name + "\" has no entry with \"ids\" in special_tokens");
      }
      const JsonPath ids_at = at.Field("special_tokens").Field(*name).Field("ids");
      for (size_t k = 0; k < (*entry)["ids"].size(); ++k) {
        absl::StatusOr<int32_t> id = ReadId((*entry)["ids"][k], ids_at.Index(k));
        if (!id.ok()) return id.status();
        (seen_sequence ? after : before).push_back(*id);
      }
    } else {
      return piece_at.Invalid("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_sequence) return single_at.Invalid("template has no sequence A");
  return std::make_unique<FramingPostProcessor>(std::move(before), std::move(after));
}

// BertProcessing / RobertaProcessing: "cls": ["[CLS]", 101], "sep": ["[SEP]", 102].
absl::StatusOr<std::unique_ptr<PostProcessor>> MakeClsSep(const nlohmann::json& j, const JsonPath& at) {
  std::vector<int32_t> ids;
  for (const char* key : {"cls", "sep"}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array() || it->size() != 2) {
      return at.Field(key).Invalid("expected [\"token\", id]");
    }
    absl::StatusOr<int32_t> id = ReadId((*it)[1], at.Field(key).Index(1));
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  return std::make_unique<FramingPostProcessor>(std::vector<int32_t>{ids[0]}, std::vector<int32_t>{ids[1]});
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> MakePostProcessor(const nlohmann::json& j, const JsonPath& at) {
  if (j.is_null()) return std::unique_ptr<PostProcessor>();
  absl::StatusOr<std::string> type = GetType(j, at);
  if (!type.ok()) return type.status();
  if (*type == "ByteLevel") return std::make_unique<SequencePostProcessor>(std::vector<std::unique_ptr<PostProcessor>>());
  if (*type == "TemplateProcessing") return MakeTemplate(j, at);
  if (*type == "BertProcessing" || *type == "RobertaProcessing") return MakeClsSep(j, at);
  if (*type == "Sequence") {
    auto it = j.find("processors");
    if (it == j.end() || !it->is_array()) return at.Field("processors").Invalid("expected an array");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < it->size(); ++i) {
      auto part = MakePostProcessor((*it)[i], at.Field("processors").Index(i));
      if (!part.ok()) return part.status();
      if (*part != nullptr) parts.push_back(std::move(*part));
    }
    return std::make_unique<SequencePostProcessor>(std::move(parts));
  }
  return at.Field("type").Unsupported(
      "unsupported post_processor type \"" + *type +
      "\" (supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence)");
}

}  // namespace sparsegate
