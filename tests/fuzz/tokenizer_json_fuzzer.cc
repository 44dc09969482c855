// tokenizer.json text from the fuzzer: loading returns a status or a tokenizer that encodes and
// decodes a few fixed texts without crashing, its ids inside its own vocabulary.
#include "difficulty_service/core/common/json_parse.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate;
  auto json = ParseJson(fuzz::AsText(data, size));
  if (!json.ok()) return 0;
  auto tokenizer = Tokenizer::FromJson(*json, "tokenizer.json");
  if (!tokenizer.ok()) return 0;
  for (const char* text : {"Q: 12 + 7 = ?", "  Caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve\n\n<|im_start|>user", ""}) {
    for (bool special : {false, true}) {
      auto ids = (*tokenizer)->Encode(text, special);
      if (!ids.ok()) continue;
      for (int32_t id : *ids)
        if (id < 0 || id >= (*tokenizer)->vocab_size()) __builtin_trap();
      (*tokenizer)->Decode(*ids, !special);
    }
  }
  return 0;
}
