// A whole .safetensors file from the fuzzer: Open() must refuse it with a status or return views
// that lie inside the mapping (every byte of every tensor is read, so ASan sees any overrun).
#include "difficulty_service/core/checkpoint/safetensors.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate;
  const std::string path = fuzz::ScratchDir() + "/model.safetensors";
  fuzz::WriteFile(path, fuzz::AsText(data, size));
  auto file = SafetensorsFile::Open(path);
  if (!file.ok()) return 0;
  unsigned checksum = 0;
  for (const auto& [name, view] : (*file)->tensors()) {
    for (size_t i = 0; i < view.nbytes; ++i) checksum += view.data[i];
    if (view.numel() * static_cast<int64_t>(DTypeSize(view.dtype)) != static_cast<int64_t>(view.nbytes)) __builtin_trap();
  }
  return static_cast<int>(checksum & 0);
}
