// A plugin checkpoint file from the fuzzer: ParseCheckpoint answers a status or a checkpoint that
// serializes again and parses back. Mutated files almost never keep a valid checksum, so for odd
// first bytes the harness re-seals the document's "state" with a correct checksum first, and the
// fuzzer reaches the state decoding behind it.
#include "absl/strings/str_format.h"
#include "difficulty_service/core/common/json_parse.h"
#include "fuzz_input.h"
#include "trainer_plugin/stable_hash.h"
#include "trainer_plugin/state/plugin_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate::plugin;
  if (size == 0) return 0;
  std::string text(sparsegate::fuzz::AsText(data + 1, size - 1));
  if (data[0] & 1) {
    auto document = sparsegate::ParseJson(text);
    if (document.ok() && document->is_object() && document->contains("state")) {
      // The checksum as plugin_checkpoint.cc computes it.
      (*document)["checksum"] = absl::StrFormat("fnv1a64:%016x", StableHash64((*document)["state"].dump()));
      text = document->dump();
    }
  }
  auto checkpoint = ParseCheckpoint(text, "sparsegate_plugin.json");
  if (!checkpoint.ok()) return 0;
  auto again = ParseCheckpoint(SerializeCheckpoint(*checkpoint), "reserialized");
  if (!again.ok()) __builtin_trap();
  return 0;
}
