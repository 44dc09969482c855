#include "difficulty_service/core/tokenizer/tokenizer.h"


#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/common/json_parse.h"
#include "difficulty_service/core/tokenizer/added_vocabulary.h"
#include "difficulty_service/core/tokenizer/bpe_model.h"
#include "difficulty_service/core/tokenizer/decoder.h"
#include "difficulty_service/core/tokenizer/normalizer.h"
#include "difficulty_service/core/tokenizer/post_processor.h"
#include "difficulty_service/core/tokenizer/pre_tokenizer.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {

Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  absl::StatusOr<nlohmann::json> j = ParseJsonFile(path);
  if (!j.ok()) return j.status();
  return FromJson(*j, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(const nlohmann::json& j, const std::string& source_name) {
  const JsonPath root(source_name, "");
  if (absl::Status s = RequireObject(j, root); !s.ok()) return s;
  auto field = [&j](const char* key) { return j.contains(key) ? j[key] : nlohmann::json(); };
  auto tokenizer = std::unique_ptr<Tokenizer>(new Tokenizer());
  tokenizer->source_name_ = source_name;

  // Truncation and padding are deliberately not applied: callers score whole prompts and
  // enforce their own length limits.
  if (!j.contains("model")) return root.Field("model").Invalid("missing");
  auto model = BpeModel::FromJson(j["model"], root.Field("model"));
  if (!model.ok()) return model.status();
  tokenizer->model_ = std::move(*model);

  auto normalizer = MakeNormalizer(field("normalizer"), root.Field("normalizer"));
  if (!normalizer.ok()) return normalizer.status();
  tokenizer->normalizer_ = std::move(*normalizer);

  auto pre_tokenizer = MakePreTokenizer(field("pre_tokenizer"), root.Field("pre_tokenizer"));
  if (!pre_tokenizer.ok()) return pre_tokenizer.status();
  tokenizer->pre_tokenizer_ = std::move(*pre_tokenizer);

  auto post_processor = MakePostProcessor(field("post_processor"), root.Field("post_processor"));
  if (!post_processor.ok()) return post_processor.status();
  tokenizer->post_processor_ = std::move(*post_processor);

  auto decoder = MakeDecoder(field("decoder"), root.Field("decoder"));
  if (!decoder.ok()) return decoder.status();
  tokenizer->decoder_ = std::move(*decoder);

  auto added = AddedVocabulary::FromJson(field("added_tokens"), root.Field("added_tokens"), *tokenizer->model_,
                                         tokenizer->normalizer_.get());
  if (!added.ok()) return added.status();
  tokenizer->added_ = std::make_unique<AddedVocabulary>(std::move(*added));

  // A post-processor writes its special ids verbatim: one that names no token of this tokenizer
  // would reach the model as an id past its vocabulary (found by tests/fuzz/tokenizer_json_fuzzer).
  if (tokenizer->post_processor_ != nullptr) {
    std::vector<int32_t> framing;
    tokenizer->post_processor_->Process(&framing, /*add_special_tokens=*/true);
    for (int32_t id : framing) {
      if (!tokenizer->IdToToken(id).has_value())
        return root.Field("post_processor")
            .Invalid(absl::StrCat("adds id ", id, ", which is no token of this tokenizer (its ids end at ",
                                  tokenizer->vocab_size() - 1, ")"));
    }
  }
  return tokenizer;
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view text, bool add_special_tokens,
                                                       size_t max_tokens) const {
  if (const size_t bad = utf8::FindInvalid(text); bad != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte offset ", bad));
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<AddedVocabulary::Piece> raw_pieces, normalized_pieces;
  added_->Split(text, /*normalized_pass=*/false, &raw_pieces);
  std::string normalized;
  PreTokens pre;
  for (const AddedVocabulary::Piece& raw : raw_pieces) {
    if (ids.size() > max_tokens) return ids;
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    normalized.assign(text.substr(raw.begin, raw.end - raw.begin));
    if (normalizer_ != nullptr) {
      if (absl::Status s = normalizer_->Normalize(&normalized); !s.ok()) return s;
    }
    normalized_pieces.clear();
    added_->Split(normalized, /*normalized_pass=*/true, &normalized_pieces);
    for (const AddedVocabulary::Piece& piece : normalized_pieces) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      pre.pieces.assign(1, normalized.substr(piece.begin, piece.end - piece.begin));
      pre.first_at_origin = raw.begin == 0 && piece.begin == 0;
      if (pre_tokenizer_ != nullptr) {
        if (absl::Status s = pre_tokenizer_->PreTokenize(&pre); !s.ok()) return s;
      }
      for (const std::string& word : pre.pieces) {
        if (ids.size() > max_tokens) return ids;
        model_->Tokenize(word, &ids);
      }
    }
  }
  if (post_processor_ != nullptr) post_processor_->Process(&ids, add_special_tokens);
  return ids;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string* token = added_->DecodeForm(id);
    if (token == nullptr) token = model_->IdToToken(id);
    if (token == nullptr) continue;
    // HF tests the token's text, so a vocabulary entry spelled like a special token is skipped too.
    if (skip_special_tokens && added_->IsSpecialContent(*token)) continue;
    tokens.push_back(*token);
  }
  if (decoder_ == nullptr) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  decoder_->DecodeChain(&tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::vector<std::string> Tokenizer::load_warnings() const {
  std::vector<std::string> warnings;
  if (model_->unk_token_missing())
    warnings.push_back(absl::StrCat(QuotedPath(source_name_), ": model.unk_token is not in the vocabulary; characters "
                                    "the vocabulary cannot encode are dropped (Hugging Face fails on them)"));
  return warnings;
}

int32_t Tokenizer::vocab_size() const { return std::max(model_->max_id(), added_->max_id()) + 1; }

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (std::optional<int32_t> id = added_->TokenToId(token)) return id;
  return model_->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  if (const AddedToken* t = added_->Find(id)) return t->content;
  if (const std::string* t = model_->IdToToken(id)) return *t;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const AddedToken* t = added_->Find(id);
  return t != nullptr && t->special;
}

}  // namespace sparsegate
