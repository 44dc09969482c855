#include "difficulty_service/core/tokenizer/decoder.h"

#include "difficulty_service/core/tokenizer/pre_tokenizer.h"
#include "difficulty_service/core/tokenizer/regex.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

// Maps every stand-in character back to its byte. A token with a character outside the byte
// alphabet (an added token such as "<think>" never is, but a hand-made one may be) contributes
// its own UTF-8 bytes. Invalid UTF-8 that results from cutting a character between tokens
// becomes U+FFFD.
class ByteLevelDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& t : *tokens) {
      const size_t mark = bytes.size();
      bool all_mapped = true;
      for (size_t i = 0; i < t.size();) {
        int len;
        const int b = ByteLevelByte(utf8::Decode(t.data() + i, &len));
        if (b < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
        i += len;
      }
      if (!all_mapped) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens->assign(1, utf8::FromBytesLossy(bytes));
  }
};

// Joins runs of <0xNN> tokens into the text they spell; bytes that are not valid UTF-8 become
// one U+FFFD each, as in HF.
class ByteFallbackDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&]() {
      if (pending.empty()) return;
      if (utf8::FindInvalid(pending) == std::string::npos) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& t : *tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') byte = ParseHexByte(t[3], t[4]);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    *tokens = std::move(out);
  }

 private:
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static int ParseHexByte(char hi, char lo) {
    const int h = Hex(hi), l = Hex(lo);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
  }
};

class FuseDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string joined;
    for (const std::string& t : *tokens) joined += t;
    tokens->assign(1, std::move(joined));
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::unique_ptr<Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<Regex::Match> matches;
    for (std::string& t : *tokens) {
      matches.clear();
      // Decoding cannot fail; a PCRE2 resource failure leaves the token as it is.
      if (!pattern_->FindAll(t, &matches).ok() || matches.empty()) continue;
      std::string out;
      size_t prev = 0;
      for (const Regex::Match& m : matches) {
        out.append(t, prev, m.begin - prev);
        out += content_;
        prev = m.end;
      }
      out.append(t, prev, std::string::npos);
      t.swap(out);
    }
  }

 private:
  std::unique_ptr<Regex> pattern_;
  std::string content_;
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, int start, int stop) : content_(content), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) {
      std::vector<std::pair<size_t, char32_t>> chars;
      for (size_t i = 0; i < t.size();) {
        int len;
        chars.emplace_back(i, utf8::Decode(t.data() + i, &len));
        i += len;
      }
      size_t start_cut = 0;
      for (size_t i = 0; i < chars.size() && i < static_cast<size_t>(start_); ++i) {
        if (chars[i].second != content_) break;
        start_cut = i + 1;
      }
      size_t stop_cut = chars.size();
      for (size_t i = 0; i < static_cast<size_t>(stop_) && i < chars.size(); ++i) {
        const size_t index = chars.size() - i - 1;
        if (chars[index].second != content_) break;
        stop_cut = index;
      }
      if (stop_cut < start_cut) stop_cut = start_cut;
      const size_t b = start_cut < chars.size() ? chars[start_cut].first : t.size();
      const size_t e = stop_cut < chars.size() ? chars[stop_cut].first : t.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  char32_t content_;
  int start_;
  int stop_;
};

// Turns the replacement character back into spaces; in the first token it is dropped (it is the
// prefix the pre-tokenizer added) unless prepend_scheme is "never".
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool prepends) : replacement_(replacement), prepends_(prepends) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t k = 0; k < tokens->size(); ++k) {
      std::string& t = (*tokens)[k];
      std::string out;
      for (size_t i = 0; i < t.size();) {
        int len;
        const char32_t c = utf8::Decode(t.data() + i, &len);
        if (c != replacement_) {
          out.append(t, i, len);
        } else if (k != 0 || !prepends_) {
          out.push_back(' ');
        }
        i += len;
      }
      t.swap(out);
    }
  }

 private:
  char32_t replacement_;
  bool prepends_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& p : parts_) p->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

absl::StatusOr<char32_t> OneChar(const nlohmann::json& j, const JsonPath& at, const char* key, const char* fallback) {
  absl::StatusOr<std::string> s = GetString(j, at, key, fallback);
  if (!s.ok()) return s.status();
  int len = 0;
  if (s->empty() || utf8::FindInvalid(*s) != std::string::npos) return at.Field(key).Invalid("must be one character");
  const char32_t c = utf8::Decode(s->data(), &len);
  if (static_cast<size_t>(len) != s->size()) return at.Field(key).Invalid("must be exactly one character");
  return c;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> MakeDecoder(const nlohmann::json& j, const JsonPath& at) {
  if (j.is_null()) return std::unique_ptr<Decoder>();
  absl::StatusOr<std::string> type = GetType(j, at);
  if (!type.ok()) return type.status();
  if (*type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (*type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (*type == "Fuse") return std::make_unique<FuseDecoder>();
  if (*type == "Replace") {
    auto pattern = MakePattern(j.value("pattern", nlohmann::json()), at.Field("pattern"));
    if (!pattern.ok()) return pattern.status();
    absl::StatusOr<std::string> content = GetString(j, at, "content");
    if (!content.ok()) return content.status();
    return std::make_unique<ReplaceDecoder>(std::move(*pattern), *content);
  }
  if (*type == "Strip") {
    absl::StatusOr<char32_t> content = OneChar(j, at, "content", " ");
    if (!content.ok()) return content.status();
    absl::StatusOr<int64_t> start = GetInt(j, at, "start", 0);
    if (!start.ok()) return start.status();
    absl::StatusOr<int64_t> stop = GetInt(j, at, "stop", 0);
    if (!stop.ok()) return stop.status();
    if (*start < 0 || *stop < 0) return at.Invalid("start and stop must not be negative");
    return std::make_unique<StripDecoder>(*content, static_cast<int>(*start), static_cast<int>(*stop));
  }
  if (*type == "Metaspace") {
    absl::StatusOr<char32_t> replacement = OneChar(j, at, "replacement", "\xE2\x96\x81");
    if (!replacement.ok()) return replacement.status();
    absl::StatusOr<std::string> scheme = GetString(j, at, "prepend_scheme", "always");
    if (!scheme.ok()) return scheme.status();
    absl::StatusOr<bool> add_prefix_space = GetBool(j, at, "add_prefix_space", true);
    if (!add_prefix_space.ok()) return add_prefix_space.status();
    const bool prepends = *scheme != "never" && *add_prefix_space;
    return std::make_unique<MetaspaceDecoder>(*replacement, prepends);
  }
  if (*type == "Sequence") {
    auto it = j.find("decoders");
    if (it == j.end() || !it->is_array()) return at.Field("decoders").Invalid("expected an array");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < it->size(); ++i) {
      auto part = MakeDecoder((*it)[i], at.Field("decoders").Index(i));
      if (!part.ok()) return part.status();
      if (*part != nullptr) parts.push_back(std::move(*part));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  return at.Field("type").Unsupported(
      "unsupported decoder type \"" + *type +
      "\" (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)");
}

}  // namespace sparsegate
