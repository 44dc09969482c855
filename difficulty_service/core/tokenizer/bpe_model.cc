#include "difficulty_service/core/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/tokenizer/absl_view.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

// HF caches only words shorter than this; longer ones are rare and would crowd the cache.
constexpr size_t kMaxCachedWordBytes = 256;
// Token ids index a dense table; no real vocabulary comes near this.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  int32_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
};

// A candidate merge. `order` packs (rank, position) so that one integer comparison gives HF's
// priority: lowest rank first, and among equal ranks the leftmost position.
struct QueuedMerge {
  uint64_t order;
  int32_t new_id;

  QueuedMerge(int32_t rank, int32_t pos, int32_t id)
      : order((static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) | static_cast<uint32_t>(pos)), new_id(id) {}
  int32_t pos() const { return static_cast<int32_t>(order & 0xFFFFFFFFu); }
};

// std::*_heap keep the greatest element on top; ours is the smallest order.
struct LowerPriority {
  bool operator()(const QueuedMerge& a, const QueuedMerge& b) const { return a.order > b.order; }
};

}  // namespace

bool BpeModel::WordCache::Lookup(std::string_view word, std::vector<int32_t>* ids) const {
  Shard& shard = shards_[absl::Hash<absl::string_view>()(AsAbsl(word)) % kShards];
  std::shared_lock<std::shared_mutex> lock(shard.mu);
  auto it = shard.map.find(AsAbsl(word));
  if (it == shard.map.end()) return false;
  ids->insert(ids->end(), it->second.begin(), it->second.end());
  return true;
}

void BpeModel::WordCache::Insert(std::string_view word, const int32_t* ids, size_t n) const {
  Shard& shard = shards_[absl::Hash<absl::string_view>()(AsAbsl(word)) % kShards];
  std::unique_lock<std::shared_mutex> lock(shard.mu);
  if (shard.map.size() >= kEntriesPerShard) shard.map.clear();
  shard.map.try_emplace(std::string(word), std::vector<int32_t>(ids, ids + n));
}

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const nlohmann::json& j, const JsonPath& at) {
  if (absl::Status s = RequireObject(j, at); !s.ok()) return s;
  if (j.contains("type")) {
    absl::StatusOr<std::string> type = GetString(j, at, "type");
    if (!type.ok()) return type.status();
    if (*type != "BPE") {
      return at.Field("type").Unsupported("unsupported model type \"" + *type + "\" (supported: BPE)");
    }
  }
  if (auto it = j.find("dropout"); it != j.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() != 0.0) {
      return at.Field("dropout").Unsupported("BPE dropout makes encoding random; only null or 0 is supported");
    }
  }
  auto model = std::unique_ptr<BpeModel>(new BpeModel());

  // Vocabulary.
  auto vocab_it = j.find("vocab");
  if (vocab_it == j.end() || !vocab_it->is_object()) return at.Field("vocab").Invalid("expected an object of token: id");
  model->vocab_.reserve(vocab_it->size());
  int64_t max_id = -1;
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > kMaxTokenId) {
      return at.Field("vocab").Invalid(absl::StrCat("token \"", it.key(), "\" has id ", it.value().dump(),
                                                    ", expected an integer in [0, ", kMaxTokenId, "]"));
    }
    const int64_t id = it.value().get<int64_t>();
    model->vocab_[it.key()] = static_cast<int32_t>(id);
    max_id = std::max(max_id, id);
  }
  model->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  model->has_id_.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [token, id] : model->vocab_) {
    model->id_to_token_[id] = token;
    model->has_id_[id] = true;
  }

  // Options.
  absl::StatusOr<std::string> prefix = GetString(j, at, "continuing_subword_prefix", "");
  if (!prefix.ok()) return prefix.status();
  model->continuing_subword_prefix_ = *prefix;
  absl::StatusOr<std::string> suffix = GetString(j, at, "end_of_word_suffix", "");
  if (!suffix.ok()) return suffix.status();
  model->end_of_word_suffix_ = *suffix;
  absl::StatusOr<bool> fuse_unk = GetBool(j, at, "fuse_unk", false);
  if (!fuse_unk.ok()) return fuse_unk.status();
  model->fuse_unk_ = *fuse_unk;
  absl::StatusOr<bool> byte_fallback = GetBool(j, at, "byte_fallback", false);
  if (!byte_fallback.ok()) return byte_fallback.status();
  model->byte_fallback_ = *byte_fallback;
  absl::StatusOr<bool> ignore_merges = GetBool(j, at, "ignore_merges", false);
  if (!ignore_merges.ok()) return ignore_merges.status();
  model->ignore_merges_ = *ignore_merges;
  absl::StatusOr<std::string> unk = GetString(j, at, "unk_token", "");
  if (!unk.ok()) return unk.status();
  if (!unk->empty()) {
    // HF loads such a file and fails only when an unknown character shows up; byte-level
    // vocabularies never meet one, so accept it and drop unknown characters instead.
    auto it = model->vocab_.find(*unk);
    if (it != model->vocab_.end()) model->unk_id_ = it->second;
    else model->unk_token_missing_ = true;  // said as a load warning (Tokenizer::load_warnings)
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = model->vocab_.find(name);
    model->byte_ids_[b] = it == model->vocab_.end() ? -1 : it->second;
  }
  model->small_char_ids_.assign(0x800, -1);
  for (char32_t cp = 0; cp < 0x800; ++cp) {
    std::string s;
    utf8::Append(cp, &s);
    if (auto it = model->vocab_.find(s); it != model->vocab_.end()) model->small_char_ids_[cp] = it->second;
  }

  // Merges. A later duplicate of a pair overrides the earlier one, as in HF's hash map build.
  auto merges_it = j.find("merges");
  if (merges_it == j.end() || !merges_it->is_array()) return at.Field("merges").Invalid("expected an array");
  model->merges_.reserve(merges_it->size());
  const JsonPath merges_at = at.Field("merges");
  int32_t rank = 0;
  std::string left, right;
  for (size_t i = 0; i < merges_it->size(); ++i) {
    const nlohmann::json& m = (*merges_it)[i];
    if (m.is_string()) {
      const std::string& line = m.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;  // header line of a merges.txt
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return merges_at.Index(i).Invalid("expected \"left right\" with exactly one space, found \"" + line + "\"");
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return merges_at.Index(i).Invalid("expected \"left right\" or [\"left\", \"right\"]");
    }
    auto l = model->vocab_.find(left);
    auto r = model->vocab_.find(right);
    if (l == model->vocab_.end() || r == model->vocab_.end()) {
      return merges_at.Index(i).Invalid("merge token \"" + (l == model->vocab_.end() ? left : right) +
                                        "\" is not in the vocabulary");
    }
    if (right.size() < model->continuing_subword_prefix_.size()) {
      return merges_at.Index(i).Invalid("right token \"" + right + "\" is shorter than continuing_subword_prefix");
    }
    const std::string merged = left + right.substr(model->continuing_subword_prefix_.size());
    auto n = model->vocab_.find(merged);
    if (n == model->vocab_.end()) {
      return merges_at.Index(i).Invalid("merged token \"" + merged + "\" is not in the vocabulary");
    }
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(l->second)) << 32) | static_cast<uint32_t>(r->second);
    model->merges_[key] = Merge{rank, n->second};
    ++rank;
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(AsAbsl(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(AsAbsl(word)); it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable && cache_.Lookup(word, ids)) return;
  const size_t before = ids->size();
  MergeWord(word, ids);
  if (cacheable) cache_.Insert(word, ids->data() + before, ids->size() - before);
}

int32_t BpeModel::CharId(std::string_view word, size_t pos, size_t len, std::string* scratch) const {
  const bool decorate = (pos > 0 && !continuing_subword_prefix_.empty()) ||
                        (pos + len == word.size() && !end_of_word_suffix_.empty());
  if (!decorate && len <= 2) {
    int n;
    return small_char_ids_[utf8::Decode(word.data() + pos, &n)];
  }
  scratch->clear();
  if (pos > 0) scratch->append(continuing_subword_prefix_);
  scratch->append(word.substr(pos, len));
  if (pos + len == word.size()) scratch->append(end_of_word_suffix_);
  auto it = vocab_.find(*scratch);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>* ids) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&symbols](int32_t id, int32_t len) {
    const auto n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back(Symbol{id, n - 1, -1, len});
  };

  // Split into characters. Unknown characters fall back to byte tokens, then to unk_token
  // (consecutive ones fused into one with fuse_unk), else they are dropped, as in HF.
  std::string scratch;
  int32_t pending_unk_len = 0;  // > 0 while an unk symbol waits to be added
  for (size_t i = 0; i < word.size();) {
    const size_t len = std::min<size_t>(utf8::SequenceLength(static_cast<unsigned char>(word[i])), word.size() - i);
    const int32_t id = CharId(word, i, len, &scratch);
    if (id >= 0) {
      if (pending_unk_len > 0) add(unk_id_, pending_unk_len);
      pending_unk_len = 0;
      add(id, static_cast<int32_t>(len));
    } else {
      bool handled = false;
      if (byte_fallback_) {
        // HF converts the decorated string (with prefix/suffix) byte by byte.
        const bool decorate = (i > 0 && !continuing_subword_prefix_.empty()) ||
                              (i + len == word.size() && !end_of_word_suffix_.empty());
        std::string_view s = decorate ? std::string_view(scratch) : word.substr(i, len);
        handled = std::all_of(s.begin(), s.end(), [&](char c) { return byte_ids_[static_cast<unsigned char>(c)] >= 0; });
        if (handled) {
          for (char c : s) add(byte_ids_[static_cast<unsigned char>(c)], 1);
        }
      }
      if (!handled && unk_id_ >= 0) {
        if (pending_unk_len > 0 && !fuse_unk_) {
          add(unk_id_, pending_unk_len);
          pending_unk_len = 0;
        }
        pending_unk_len += static_cast<int32_t>(len);
      }
    }
    i += len;
  }
  if (pending_unk_len > 0) add(unk_id_, pending_unk_len);

  if (symbols.size() > 1) {
    std::vector<QueuedMerge> heap;
    heap.reserve(symbols.size());
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      if (const Merge* m = FindMerge(symbols[i].id, symbols[i + 1].id)) {
        heap.emplace_back(m->rank, static_cast<int32_t>(i), m->new_id);
      }
    }
    std::make_heap(heap.begin(), heap.end(), LowerPriority());
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), LowerPriority());
      const QueuedMerge top = heap.back();
      heap.pop_back();
      const int32_t pos = top.pos();
      Symbol& cur = symbols[pos];
      if (cur.len == 0 || cur.next < 0) continue;
      const Symbol right = symbols[cur.next];
      // Entries go stale when a neighbour merged first; HF recognises a live one by the pair
      // still producing the same token.
      const Merge* now = FindMerge(cur.id, right.id);
      if (now == nullptr || now->new_id != top.new_id) continue;
      symbols[cur.next].len = 0;
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = pos;
      if (cur.prev >= 0) {
        if (const Merge* m = FindMerge(symbols[cur.prev].id, cur.id)) {
          heap.emplace_back(m->rank, cur.prev, m->new_id);
          std::push_heap(heap.begin(), heap.end(), LowerPriority());
        }
      }
      if (cur.next >= 0) {
        if (const Merge* m = FindMerge(cur.id, symbols[cur.next].id)) {
          heap.emplace_back(m->rank, pos, m->new_id);
          std::push_heap(heap.begin(), heap.end(), LowerPriority());
        }
      }
    }
  }
  for (const Symbol& s : symbols) {
    if (s.len != 0) ids->push_back(s.id);
  }
}

}  // namespace sparsegate
