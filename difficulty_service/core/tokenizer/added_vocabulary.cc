#include "difficulty_service/core/tokenizer/added_vocabulary.h"

#include <utf8proc.h>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

// The regex crate's Unicode \w, which HF uses for single_word: Alphabetic, Mark, Decimal_Number,
// Connector_Punctuation, Join_Control. Alphabetic is approximated by the letter categories, Nl and
// the circled letters (its Other_Alphabetic members outside Mark).
bool IsWordChar(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  if (c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9)) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Start of the code point that ends just before byte `end` (> 0) of valid UTF-8.
size_t PreviousCharStart(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

bool EndsWithWordChar(std::string_view s, size_t end) {
  if (end == 0) return false;
  int len;
  return IsWordChar(utf8::Decode(s.data() + PreviousCharStart(s, end), &len));
}

bool StartsWithWordChar(std::string_view s, size_t begin) {
  if (begin >= s.size()) return false;
  int len;
  return IsWordChar(utf8::Decode(s.data() + begin, &len));
}

// Start of the whitespace run that ends at `end`.
size_t WhitespaceRunStart(std::string_view s, size_t end) {
  while (end > 0) {
    const size_t start = PreviousCharStart(s, end);
    int len;
    if (!utf8::IsWhiteSpace(utf8::Decode(s.data() + start, &len))) break;
    end = start;
  }
  return end;
}

// End of the whitespace run that starts at `begin`.
size_t WhitespaceRunEnd(std::string_view s, size_t begin) {
  while (begin < s.size()) {
    int len;
    if (!utf8::IsWhiteSpace(utf8::Decode(s.data() + begin, &len))) break;
    begin += len;
  }
  return begin;
}

}  // namespace

void AddedVocabulary::Matcher::Add(std::string_view pattern, int32_t id) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (char ch : pattern) {
    const auto b = static_cast<unsigned char>(ch);
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | b;
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      const auto child = static_cast<int32_t>(terminal_.size());
      terminal_.push_back(-1);
      it = edges_.emplace(key, child).first;
    }
    node = it->second;
  }
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
  terminal_[node] = id;
}

bool AddedVocabulary::Matcher::Find(std::string_view text, size_t from, size_t* begin, size_t* end,
                                    int32_t* id) const {
  for (size_t i = from; i < text.size(); ++i) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) continue;
    int32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[j]));
      if (it == edges_.end()) break;
      node = it->second;
      if (terminal_[node] >= 0) {
        best = terminal_[node];
        best_end = j + 1;
      }
    }
    if (best >= 0) {
      *begin = i;
      *end = best_end;
      *id = best;
      return true;
    }
  }
  return false;
}

absl::StatusOr<AddedVocabulary> AddedVocabulary::FromJson(const nlohmann::json& added_tokens, const JsonPath& at,
                                                          const BpeModel& model, const Normalizer* normalizer) {
  AddedVocabulary vocab;
  if (added_tokens.is_null()) return vocab;
  if (!added_tokens.is_array()) return at.Invalid("expected an array");
  int64_t next_id = static_cast<int64_t>(model.vocab_entries());
  for (size_t i = 0; i < added_tokens.size(); ++i) {
    const nlohmann::json& j = added_tokens[i];
    const JsonPath here = at.Index(i);
    if (absl::Status s = RequireObject(j, here); !s.ok()) return s;
    AddedToken token;
    absl::StatusOr<std::string> content = GetString(j, here, "content");
    if (!content.ok()) return content.status();
    token.content = *content;
    absl::StatusOr<bool> special = GetBool(j, here, "special", false);
    if (!special.ok()) return special.status();
    token.special = *special;
    for (auto [key, field] : {std::pair{"single_word", &token.single_word}, std::pair{"lstrip", &token.lstrip},
                              std::pair{"rstrip", &token.rstrip}}) {
      absl::StatusOr<bool> v = GetBool(j, here, key, false);
      if (!v.ok()) return v.status();
      *field = *v;
    }
    absl::StatusOr<bool> normalized = GetBool(j, here, "normalized", !token.special);
    if (!normalized.ok()) return normalized.status();
    token.normalized = *normalized;
    // The id is derived below, as HF derives it, but a file whose ids are not even token ids is broken.
    absl::StatusOr<int64_t> written_id = GetInt(j, here, "id", 0);
    if (!written_id.ok()) return written_id.status();
    if (*written_id < 0) return here.Field("id").Invalid(absl::StrCat("is ", *written_id, "; token ids are not negative"));
    if (token.content.empty()) continue;  // HF ignores empty tokens

    // HF's id rule (see the header): existing added token, then model vocabulary, then next id.
    if (auto it = vocab.by_content_.find(token.content); it != vocab.by_content_.end()) {
      token.id = it->second;
      vocab.tokens_[vocab.by_id_[token.id]] = token;
    } else {
      if (std::optional<int32_t> model_id = model.TokenToId(token.content)) {
        token.id = *model_id;
      } else {
        token.id = static_cast<int32_t>(next_id++);
      }
      if (auto it = vocab.by_id_.find(token.id); it != vocab.by_id_.end()) {
        vocab.tokens_[it->second] = token;
      } else {
        vocab.by_id_[token.id] = vocab.tokens_.size();
        vocab.tokens_.push_back(token);
      }
      vocab.by_content_[token.content] = token.id;
    }
    if (token.special) vocab.special_contents_.insert(token.content);
  }

  for (const AddedToken& token : vocab.tokens_) {
    vocab.max_id_ = std::max(vocab.max_id_, token.id);
    if (!token.normalized) {
      vocab.raw_.Add(token.content, token.id);
      continue;
    }
    std::string form = token.content;
    if (normalizer != nullptr) {
      if (absl::Status s = normalizer->Normalize(&form); !s.ok()) {
        return at.Invalid(absl::StrCat("normalizing added token \"", token.content, "\": ", s.message()));
      }
      if (form != token.content) vocab.decode_form_[token.id] = form;
    }
    vocab.normalized_.Add(form, token.id);
  }
  return vocab;
}

void AddedVocabulary::Split(std::string_view text, bool normalized_pass, std::vector<Piece>* out) const {
  if (text.empty()) return;
  const Matcher& matcher = normalized_pass ? normalized_ : raw_;
  if (matcher.empty()) {
    out->push_back(Piece{0, text.size(), -1});
    return;
  }
  size_t done = 0;    // text before this is already in `out`
  size_t search = 0;  // where the next match may start
  size_t begin, end;
  int32_t id;
  while (matcher.Find(text, search, &begin, &end, &id)) {
    search = end;
    const AddedToken& token = tokens_[by_id_.at(id)];
    if (token.single_word && (EndsWithWordChar(text, begin) || StartsWithWordChar(text, end))) continue;
    if (token.lstrip) begin = std::max(WhitespaceRunStart(text, begin), done);
    if (token.rstrip) end = WhitespaceRunEnd(text, end);
    begin = std::max(begin, done);
    if (done < begin) out->push_back(Piece{done, begin, -1});
    out->push_back(Piece{begin, end, id});
    done = end;
    search = std::max(search, end);
  }
  if (done < text.size()) out->push_back(Piece{done, text.size(), -1});
}

std::optional<int32_t> AddedVocabulary::TokenToId(std::string_view content) const {
  auto it = by_content_.find(AsAbsl(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedVocabulary::Find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const std::string* AddedVocabulary::DecodeForm(int32_t id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  auto form = decode_form_.find(id);
  return form != decode_form_.end() ? &form->second : &tokens_[it->second].content;
}

}  // namespace sparsegate
