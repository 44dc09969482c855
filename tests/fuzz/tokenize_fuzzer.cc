// Arbitrary bytes through the embedded model's tokenizer (NFC, the Qwen2 split regex, byte-level
// BPE): Encode returns ids inside the vocabulary or InvalidArgument (bad UTF-8), with and without
// special tokens and an early stop; Decode takes any ids. The first byte picks the options.
#include <cstring>

#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "fuzz_input.h"

namespace {

const sparsegate::Tokenizer& Loaded() {
  static const sparsegate::Tokenizer* tokenizer = [] {
    const char* dir = std::getenv("SPARSEGATE_FUZZ_MODEL");
    auto t = sparsegate::Tokenizer::FromFile(std::string(dir ? dir : SPARSEGATE_DEFAULT_MODEL) + "/tokenizer.json");
    if (!t.ok()) std::abort();
    return t->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const sparsegate::Tokenizer& tokenizer = Loaded();
  const uint8_t flags = data[0];
  const std::string_view text = sparsegate::fuzz::AsText(data + 1, size - 1);
  const size_t max_tokens = (flags & 2) ? (flags >> 2) : std::numeric_limits<size_t>::max();
  auto ids = tokenizer.Encode(text, flags & 1, max_tokens);
  if (ids.ok()) {
    for (int32_t id : *ids)
      if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
    tokenizer.Decode(*ids, flags & 1);
  }
  // The same bytes read as ids, valid or not.
  std::vector<int32_t> raw((size - 1) / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data + 1, raw.size() * 4);
  tokenizer.Decode(raw, flags & 1);
  return 0;
}
