// A Reload call's model_dir from the fuzzer, against a reload root holding the awkward entries a
// hostile caller would aim at (a link loop, a link out of the root, a FIFO, a directory whose
// config.json links out): resolving never crashes or throws, an accepted path always lies inside
// the root, and opening it as a checkpoint returns a status (never blocks on the FIFO).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/service/server/backend.h"
#include "fuzz_input.h"

namespace {

const std::string& Root() {
  static const std::string root = [] {
    namespace fs = std::filesystem;
    const std::string dir = sparsegate::fuzz::ScratchDir() + "/root";
    fs::create_directories(dir + "/model");
    std::ofstream(dir + "/model/config.json") << R"({"model_type": "llama"})";
    fs::create_directories(dir + "/leaks");
    std::ofstream(sparsegate::fuzz::ScratchDir() + "/outside.json") << R"({"secret": 1})";
    fs::create_symlink(sparsegate::fuzz::ScratchDir() + "/outside.json", dir + "/leaks/config.json");
    fs::create_symlink(dir + "/loop", dir + "/loop");
    fs::create_directory_symlink("/", dir + "/out");
    fs::create_directories(dir + "/fifo");
    ::mkfifo((dir + "/fifo/config.json").c_str(), 0600);
    return fs::canonical(dir).string();
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate;
  std::string path(fuzz::AsText(data, size));
  // Most inputs are relative junk; aim half of them inside the root, where the entries are.
  if (!path.empty() && (path[0] & 1)) path = Root() + "/" + path.substr(1);
  absl::StatusOr<std::string> resolved = ResolveReloadPath(path, Root());
  if (!resolved.ok()) return 0;
  if (resolved->compare(0, Root().size() + 1, Root() + "/") != 0) __builtin_trap();  // escaped the root
  (void)Checkpoint::Open(*resolved);  // a status, whatever the directory holds
  return 0;
}
