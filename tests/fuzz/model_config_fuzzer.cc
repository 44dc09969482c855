// config.json text from the fuzzer: parsing and validation return a status, never throw or abort,
// and an accepted config has the sizes the model code relies on.
#include "difficulty_service/core/checkpoint/model_config.h"
#include "difficulty_service/core/common/json_parse.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate;
  auto json = ParseJson(fuzz::AsText(data, size));
  if (!json.ok()) return 0;
  auto config = ModelConfig::FromJson(*json, "config.json");
  if (!config.ok()) return 0;
  if (config->hidden_size <= 0 || config->num_hidden_layers <= 0 || config->vocab_size <= 0 ||
      config->head_dim <= 0 || config->num_attention_heads <= 0 || config->num_key_value_heads <= 0)
    __builtin_trap();
  return 0;
}
