// A dataset file from the fuzzer through the offline commands' row reader: every non-blank line
// comes back once, as a value or an error, with its line number; fields and dumps of accepted
// rows never throw.
#include <sstream>

#include "apps/offline/dataset/jsonl_rows.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate::offline;
  std::istringstream in(std::string(sparsegate::fuzz::AsText(data, size)));
  JsonlReader reader(in);
  int64_t last_line = 0;
  while (std::optional<JsonlRow> row = reader.Next()) {
    if (row->line <= last_line) __builtin_trap();
    last_line = row->line;
    if (!row->error.empty()) {
      DumpJson(row->error);
      continue;
    }
    (void)StringField(row->value, "prompt");
    (void)StringField(row->value, "id");
    DumpJson(row->value);
  }
  return 0;
}
