#include "apps/cli/embedded_model.h"

#include <filesystem>
#include <system_error>

namespace sparsegate::cli {
namespace {

namespace fs = std::filesystem;

fs::path BinaryDirectory() {
  std::error_code error;
  fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe.parent_path();
}

}  // namespace

std::vector<std::string> EmbeddedModelCandidates() {
  std::vector<std::string> candidates;
  const fs::path bin = BinaryDirectory();
  if (bin.empty()) return candidates;
  candidates.push_back((bin.parent_path() / "share" / "sparsegate" / "models" / kEmbeddedModelName).string());
  for (fs::path dir = bin; !dir.empty(); dir = dir.parent_path()) {
    candidates.push_back((dir / "models" / kEmbeddedModelName).string());
    if (dir == dir.root_path()) break;
  }
  return candidates;
}

std::string FindEmbeddedModel() {
  for (const std::string& dir : EmbeddedModelCandidates()) {
    std::error_code error;
    if (fs::is_regular_file(fs::path(dir) / "config.json", error)) return dir;
  }
  return "";
}

}  // namespace sparsegate::cli
