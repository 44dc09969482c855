// ReadFile returns a whole (small) file's bytes, or an error that names the path: NotFound with the
// reason when it cannot be opened, DataLoss when reading fails. For configuration-sized files
// (JSON, PEM certificates, token lists); datasets and weights are streamed or mapped instead.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_COMMON_READ_FILE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_COMMON_READ_FILE_H_

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sparsegate {

inline absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(path + ": read failed");
  return text.str();
}

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_COMMON_READ_FILE_H_
