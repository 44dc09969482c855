// Helpers shared by the libFuzzer targets: the input as text, or written to a file for the readers
// that take a path (safetensors files are memory-mapped, so they need a real file).
#ifndef SPARSEGATE_TESTS_FUZZ_FUZZ_INPUT_H_
#define SPARSEGATE_TESTS_FUZZ_FUZZ_INPUT_H_

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

namespace sparsegate::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A private directory for this process, created once (under $TMPDIR, default /tmp).
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sparsegate-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern;
  }();
  return dir;
}

inline void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();  // the harness itself failed, not the code under test
}

}  // namespace sparsegate::fuzz

#endif  // SPARSEGATE_TESTS_FUZZ_FUZZ_INPUT_H_
