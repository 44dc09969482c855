#include "difficulty_service/core/tokenizer/pre_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <functional>

#include "difficulty_service/core/tokenizer/regex.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// One stretch of a piece: either a delimiter (a pattern match) or the text between two.
struct Span {
  size_t begin;
  size_t end;
  bool is_match;
};

// Turns successive matches into spans that cover [0, size), as HF's Pattern::find_matches does.
void MatchesToSpans(const std::vector<Regex::Match>& matches, size_t size, bool invert, std::vector<Span>* spans) {
  spans->clear();
  size_t prev = 0;
  for (const Regex::Match& m : matches) {
    if (prev != m.begin) spans->push_back({prev, m.begin, invert});
    spans->push_back({m.begin, m.end, !invert});
    prev = m.end;
  }
  if (prev != size) spans->push_back({prev, size, invert});
}

// Every character for which `pred` holds is a one-character delimiter span.
void CharSpans(const std::string& s, const std::function<bool(char32_t)>& pred, std::vector<Span>* spans) {
  spans->clear();
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    int len;
    const char32_t cp = utf8::Decode(s.data() + i, &len);
    if (pred(cp)) {
      if (last < i) spans->push_back({last, i, false});
      spans->push_back({i, i + len, true});
      last = i + len;
    }
    i += len;
  }
  if (last < s.size()) spans->push_back({last, s.size(), false});
}

// Applies a split behavior to spans in place, leaving the ranges to keep (possibly empty ones,
// which the caller drops). The folds mirror NormalizedString::split in HF tokenizers.
void ApplyBehavior(Behavior behavior, std::vector<Span>* spans) {
  std::vector<Span> out;
  out.reserve(spans->size());
  switch (behavior) {
    case Behavior::kIsolated:
      return;
    case Behavior::kRemoved:
      for (const Span& s : *spans) {
        if (!s.is_match) out.push_back(s);
      }
      break;
    case Behavior::kContiguous: {
      bool previous_match = false;
      for (const Span& s : *spans) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Span& s : *spans) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = spans->rbegin(); it != spans->rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  *spans = std::move(out);
}

// Runs `split_one` over every piece and rebuilds tokens->pieces from the kept spans, keeping
// track of whether the first piece still starts at the origin of the input.
absl::Status SplitPieces(PreTokens* tokens, Behavior behavior,
                         const std::function<absl::Status(const std::string&, std::vector<Span>*)>& split_one) {
  std::vector<std::string> out;
  out.reserve(tokens->pieces.size());
  std::vector<Span> spans;
  bool first_at_origin = false;
  for (size_t k = 0; k < tokens->pieces.size(); ++k) {
    const std::string& piece = tokens->pieces[k];
    if (absl::Status s = split_one(piece, &spans); !s.ok()) return s;
    ApplyBehavior(behavior, &spans);
    for (const Span& s : spans) {
      if (s.begin == s.end) continue;
      if (out.empty()) first_at_origin = tokens->first_at_origin && k == 0 && s.begin == 0;
      out.emplace_back(piece, s.begin, s.end - s.begin);
    }
  }
  tokens->pieces = std::move(out);
  tokens->first_at_origin = first_at_origin;
  return absl::OkStatus();
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Regex> pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  absl::Status PreTokenize(PreTokens* tokens) const override {
    std::vector<Regex::Match> matches;
    return SplitPieces(tokens, behavior_, [&](const std::string& piece, std::vector<Span>* spans) {
      matches.clear();
      if (absl::Status s = pattern_->FindAll(piece, &matches); !s.ok()) return s;
      MatchesToSpans(matches, piece.size(), invert_, spans);
      return absl::OkStatus();
    });
  }

 private:
  std::unique_ptr<Regex> pattern_;
  Behavior behavior_;
  bool invert_;
};

struct ByteAlphabet {
  std::array<std::string, 256> chars;
  std::array<int, 324> bytes;  // every stand-in code point is below 2^8 + 68

  ByteAlphabet() {
    bytes.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the other 68 are shifted to U+0100 onwards,
    // as in GPT-2's bytes_to_unicode.
    int shifted = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? b : 256 + shifted++;
      utf8::Append(cp, &chars[b]);
      bytes[cp] = b;
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet* alphabet = new ByteAlphabet();
  return *alphabet;
}

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Regex> gpt2_pattern)
      : add_prefix_space_(add_prefix_space), pattern_(std::move(gpt2_pattern)) {}

  absl::Status PreTokenize(PreTokens* tokens) const override {
    if (add_prefix_space_) {
      for (std::string& piece : tokens->pieces) {
        if (piece[0] != ' ') piece.insert(0, 1, ' ');
      }
    }
    if (pattern_ != nullptr) {
      std::vector<Regex::Match> matches;
      absl::Status s = SplitPieces(tokens, Behavior::kIsolated, [&](const std::string& piece, std::vector<Span>* spans) {
        matches.clear();
        if (absl::Status st = pattern_->FindAll(piece, &matches); !st.ok()) return st;
        MatchesToSpans(matches, piece.size(), false, spans);
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
    }
    const ByteAlphabet& alphabet = Alphabet();
    std::string mapped;
    for (std::string& piece : tokens->pieces) {
      mapped.clear();
      mapped.reserve(piece.size() * 2);
      for (char c : piece) mapped += alphabet.chars[static_cast<unsigned char>(c)];
      piece.swap(mapped);
    }
    return absl::OkStatus();
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> pattern_;  // null when use_regex is false
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {
    utf8::Append(replacement, &replacement_str_);
  }

  absl::Status PreTokenize(PreTokens* tokens) const override {
    for (size_t k = 0; k < tokens->pieces.size(); ++k) {
      std::string& piece = tokens->pieces[k];
      std::string replaced;
      replaced.reserve(piece.size() + 8);
      for (char c : piece) {
        if (c == ' ') replaced += replacement_str_; else replaced.push_back(c);
      }
      const bool starts_with_replacement = replaced.compare(0, replacement_str_.size(), replacement_str_) == 0;
      const bool prepend = !starts_with_replacement &&
                           (scheme_ == PrependScheme::kAlways ||
                            (scheme_ == PrependScheme::kFirst && k == 0 && tokens->first_at_origin));
      if (prepend) replaced.insert(0, replacement_str_);
      piece.swap(replaced);
    }
    if (!split_) return absl::OkStatus();
    return SplitPieces(tokens, Behavior::kMergedWithNext, [&](const std::string& piece, std::vector<Span>* spans) {
      CharSpans(piece, [&](char32_t c) { return c == replacement_; }, spans);
      return absl::OkStatus();
    });
  }

 private:
  char32_t replacement_;
  std::string replacement_str_;
  PrependScheme scheme_;
  bool split_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  absl::Status PreTokenize(PreTokens* tokens) const override {
    return SplitPieces(tokens, individual_ ? Behavior::kIsolated : Behavior::kContiguous,
                       [](const std::string& piece, std::vector<Span>* spans) {
                         CharSpans(piece, IsNumeric, spans);
                         return absl::OkStatus();
                       });
  }

 private:
  // Rust's char::is_numeric: general category Nd, Nl or No.
  static bool IsNumeric(char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    const utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
  }
  bool individual_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  absl::Status PreTokenize(PreTokens* tokens) const override {
    for (const auto& p : parts_) {
      if (absl::Status s = p->PreTokenize(tokens); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

absl::StatusOr<Behavior> ParseBehavior(const nlohmann::json& j, const JsonPath& at) {
  absl::StatusOr<std::string> name = GetString(j, at, "behavior");
  if (!name.ok()) return name.status();
  if (*name == "Removed") return Behavior::kRemoved;
  if (*name == "Isolated") return Behavior::kIsolated;
  if (*name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (*name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (*name == "Contiguous") return Behavior::kContiguous;
  return at.Field("behavior").Invalid("unknown split behavior \"" + *name + "\"");
}

}  // namespace

const std::string& ByteLevelChar(unsigned char b) { return Alphabet().chars[b]; }

int ByteLevelByte(char32_t cp) {
  const ByteAlphabet& a = Alphabet();
  return cp < a.bytes.size() ? a.bytes[cp] : -1;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const nlohmann::json& j, const JsonPath& at) {
  if (j.is_null()) return std::unique_ptr<PreTokenizer>();
  absl::StatusOr<std::string> type = GetType(j, at);
  if (!type.ok()) return type.status();

  if (*type == "Sequence") {
    auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) return at.Field("pretokenizers").Invalid("expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < it->size(); ++i) {
      auto part = MakePreTokenizer((*it)[i], at.Field("pretokenizers").Index(i));
      if (!part.ok()) return part.status();
      if (*part != nullptr) parts.push_back(std::move(*part));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (*type == "Split") {
    auto pattern = MakePattern(j.value("pattern", nlohmann::json()), at.Field("pattern"));
    if (!pattern.ok()) return pattern.status();
    absl::StatusOr<Behavior> behavior = ParseBehavior(j, at);
    if (!behavior.ok()) return behavior.status();
    absl::StatusOr<bool> invert = GetBool(j, at, "invert", false);
    if (!invert.ok()) return invert.status();
    return std::make_unique<SplitPreTokenizer>(std::move(*pattern), *behavior, *invert);
  }
  if (*type == "ByteLevel") {
    // HF's defaults for fields that older files leave out.
    absl::StatusOr<bool> add_prefix_space = GetBool(j, at, "add_prefix_space", true);
    if (!add_prefix_space.ok()) return add_prefix_space.status();
    absl::StatusOr<bool> use_regex = GetBool(j, at, "use_regex", true);
    if (!use_regex.ok()) return use_regex.status();
    std::unique_ptr<Regex> gpt2;
    if (*use_regex) {
      auto re = Regex::Compile(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
      if (!re.ok()) return re.status();
      gpt2 = std::move(*re);
    }
    return std::make_unique<ByteLevelPreTokenizer>(*add_prefix_space, std::move(gpt2));
  }
  if (*type == "Metaspace") {
    absl::StatusOr<std::string> replacement = GetString(j, at, "replacement", "\xE2\x96\x81");
    if (!replacement.ok()) return replacement.status();
    int len = 0;
    if (replacement->empty() || (utf8::Decode(replacement->data(), &len), static_cast<size_t>(len) != replacement->size())) {
      return at.Field("replacement").Invalid("must be exactly one character");
    }
    absl::StatusOr<std::string> scheme_name = GetString(j, at, "prepend_scheme", "always");
    if (!scheme_name.ok()) return scheme_name.status();
    PrependScheme scheme;
    if (*scheme_name == "always") scheme = PrependScheme::kAlways;
    else if (*scheme_name == "first") scheme = PrependScheme::kFirst;
    else if (*scheme_name == "never") scheme = PrependScheme::kNever;
    else return at.Field("prepend_scheme").Invalid("unknown prepend_scheme \"" + *scheme_name + "\"");
    // Files written before prepend_scheme existed say add_prefix_space instead.
    absl::StatusOr<bool> add_prefix_space = GetBool(j, at, "add_prefix_space", true);
    if (!add_prefix_space.ok()) return add_prefix_space.status();
    if (!*add_prefix_space) {
      if (scheme != PrependScheme::kNever && j.contains("prepend_scheme")) {
        return at.Invalid("add_prefix_space false does not match prepend_scheme \"" + *scheme_name + "\"");
      }
      scheme = PrependScheme::kNever;
    }
    absl::StatusOr<bool> split = GetBool(j, at, "split", true);
    if (!split.ok()) return split.status();
    return std::make_unique<MetaspacePreTokenizer>(utf8::Decode(replacement->data(), &len), scheme, *split);
  }
  if (*type == "Digits") {
    absl::StatusOr<bool> individual = GetBool(j, at, "individual_digits", false);
    if (!individual.ok()) return individual.status();
    return std::make_unique<DigitsPreTokenizer>(*individual);
  }
  return at.Field("type").Unsupported("unsupported pre_tokenizer type \"" + *type +
                                      "\" (supported: Split, ByteLevel, Metaspace, Digits, Sequence)");
}

}  // namespace sparsegate
