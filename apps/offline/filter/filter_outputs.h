// The files one filter run (one shard) writes into its output directory, and the lock that keeps
// a second run out of them.
//
// OutputDirectoryLock holds an exclusive flock on <dir>/<state>.lock for as long as it lives; the
// kernel releases it however the process ends. FilterOutputs opens kept, guided, dropped and
// rejects for appending, each first cut back to the size a progress record gives it, and counts
// the bytes it writes, so that the next progress record can name them.
#ifndef SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_OUTPUTS_H_
#define SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_OUTPUTS_H_

#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate::offline {

class OutputDirectoryLock {
 public:
  // FailedPrecondition when another process holds it; PermissionDenied when it cannot be created.
  static absl::StatusOr<std::unique_ptr<OutputDirectoryLock>> Acquire(const std::string& lock_path);
  ~OutputDirectoryLock();
  OutputDirectoryLock(const OutputDirectoryLock&) = delete;
  OutputDirectoryLock& operator=(const OutputDirectoryLock&) = delete;

 private:
  explicit OutputDirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

class FilterOutputs {
 public:
  static constexpr std::array<const char*, 4> kStems = {"kept", "guided", "dropped", "rejects"};

  // paths: stem -> file; sizes: stem -> bytes to keep (absent or 0: start the file empty).
  static absl::StatusOr<FilterOutputs> Open(const std::map<std::string, std::string>& paths,
                                            const std::map<std::string, uint64_t>& sizes);

  // One JSON line appended to the stem's file.
  void Write(const std::string& stem, const nlohmann::json& row);
  // Flushes every file; DataLoss naming the file when a write failed.
  absl::Status Flush();
  // stem -> bytes written so far (valid after a successful Flush).
  std::map<std::string, uint64_t> Sizes() const;

 private:
  struct File {
    std::string path;
    std::unique_ptr<std::ofstream> stream;
    uint64_t size = 0;
    int error = 0;  // errno of the first failed write
  };
  std::map<std::string, File> files_;
};

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_OUTPUTS_H_
