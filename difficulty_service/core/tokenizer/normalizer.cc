#include "difficulty_service/core/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "difficulty_service/core/tokenizer/regex.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

// True when every code point of `s` is one that NFC can never change, whatever follows or
// precedes it: such a character has NFC_Quick_Check=Yes and canonical combining class 0, and any
// character able to compose with it would itself be outside this set. Lets typical English,
// CJK and emoji text skip utf8proc entirely.
bool TriviallyNfc(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int len;
    const char32_t cp = utf8::Decode(s.data() + i, &len);
    i += len;
    const bool stable = cp < 0x300 || (cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x30A1 && cp <= 0x30FA) ||
                        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                        (cp >= 0x1F300 && cp <= 0x1FAFF);
    if (!stable) return false;
  }
  return true;
}

class UnicodeNormalizer : public Normalizer {
 public:
  UnicodeNormalizer(int options, bool is_nfc) : options_(options), is_nfc_(is_nfc) {}

  absl::Status Normalize(std::string* text) const override {
    if (is_nfc_ ? TriviallyNfc(*text) : IsAscii(*text)) {
      return absl::OkStatus();
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text->data()), static_cast<utf8proc_ssize_t>(text->size()),
                     &out, static_cast<utf8proc_option_t>(options_));
    if (n < 0) {
      return absl::InternalError(std::string("utf8proc normalization failed: ") + utf8proc_errmsg(n));
    }
    text->assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
    return absl::OkStatus();
  }

 private:
  static bool IsAscii(const std::string& s) {
    for (char c : s) {
      if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
  }

  int options_;
  bool is_nfc_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  absl::Status Normalize(std::string* text) const override {
    for (const auto& p : parts_) {
      if (absl::Status s = p->Normalize(text); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  absl::Status Normalize(std::string* text) const override {
    // As in HF: an empty span stays empty, so no stray prefix token appears between two
    // adjacent added tokens.
    if (!text->empty()) text->insert(0, prefix_);
    return absl::OkStatus();
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::Status Normalize(std::string* text) const override {
    std::vector<Regex::Match> matches;
    if (absl::Status s = pattern_->FindAll(*text, &matches); !s.ok()) return s;
    if (matches.empty()) return absl::OkStatus();
    std::string out;
    out.reserve(text->size());
    size_t prev = 0;
    for (const Regex::Match& m : matches) {
      out.append(*text, prev, m.begin - prev);
      out.append(content_);
      prev = m.end;
    }
    out.append(*text, prev, std::string::npos);
    *text = std::move(out);
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Regex> pattern_;
  std::string content_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  absl::Status Normalize(std::string* text) const override {
    size_t begin = 0, end = text->size();
    if (left_) {
      while (begin < end) {
        int len;
        if (!utf8::IsWhiteSpace(utf8::Decode(text->data() + begin, &len))) break;
        begin += len;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>((*text)[start]) & 0xC0) == 0x80) --start;
        int len;
        if (!utf8::IsWhiteSpace(utf8::Decode(text->data() + start, &len))) break;
        end = start;
      }
    }
    *text = text->substr(begin, end - begin);
    return absl::OkStatus();
  }

 private:
  bool left_, right_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const nlohmann::json& j, const JsonPath& at) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  absl::StatusOr<std::string> type = GetType(j, at);
  if (!type.ok()) return type.status();
  if (*type == "NFC") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE, true);
  if (*type == "NFD") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, false);
  if (*type == "NFKC") {
    return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, false);
  }
  if (*type == "NFKD") {
    return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, false);
  }
  if (*type == "Sequence") {
    auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) return at.Field("normalizers").Invalid("expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < it->size(); ++i) {
      absl::StatusOr<std::unique_ptr<Normalizer>> part = MakeNormalizer((*it)[i], at.Field("normalizers").Index(i));
      if (!part.ok()) return part.status();
      if (*part != nullptr) parts.push_back(std::move(*part));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (*type == "Prepend") {
    absl::StatusOr<std::string> prepend = GetString(j, at, "prepend");
    if (!prepend.ok()) return prepend.status();
    return std::make_unique<PrependNormalizer>(*prepend);
  }
  if (*type == "Replace") {
    absl::StatusOr<std::unique_ptr<Regex>> pattern = MakePattern(j.value("pattern", nlohmann::json()), at.Field("pattern"));
    if (!pattern.ok()) return pattern.status();
    absl::StatusOr<std::string> content = GetString(j, at, "content");
    if (!content.ok()) return content.status();
    return std::make_unique<ReplaceNormalizer>(std::move(*pattern), *content);
  }
  if (*type == "Strip") {
    absl::StatusOr<bool> left = GetBool(j, at, "strip_left", true);
    if (!left.ok()) return left.status();
    absl::StatusOr<bool> right = GetBool(j, at, "strip_right", true);
    if (!right.ok()) return right.status();
    return std::make_unique<StripNormalizer>(*left, *right);
  }
  return at.Field("type").Unsupported("unsupported normalizer type \"" + *type +
                                      "\" (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, Sequence)");
}

}  // namespace sparsegate
