#include "apps/offline/filter/filter_outputs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "apps/offline/dataset/jsonl_rows.h"

namespace sparsegate::offline {

namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<OutputDirectoryLock>> OutputDirectoryLock::Acquire(const std::string& lock_path) {
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::PermissionDeniedError(absl::StrCat(lock_path, ": cannot create the lock file: ", std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK)
      return absl::FailedPreconditionError(absl::StrCat(lock_path, ": another filter run is using this output directory"));
    return absl::PermissionDeniedError(absl::StrCat(lock_path, ": cannot lock: ", std::strerror(error)));
  }
  return std::unique_ptr<OutputDirectoryLock>(new OutputDirectoryLock(fd));
}

OutputDirectoryLock::~OutputDirectoryLock() { ::close(fd_); }  // closing the descriptor releases the lock

absl::StatusOr<FilterOutputs> FilterOutputs::Open(const std::map<std::string, std::string>& paths,
                                                  const std::map<std::string, uint64_t>& sizes) {
  FilterOutputs outputs;
  for (const auto& [stem, path] : paths) {
    auto recorded = sizes.find(stem);
    const uint64_t size = recorded == sizes.end() ? 0 : recorded->second;
    if (size == 0) {
      std::ofstream(path, std::ios::trunc);
    } else {
      std::error_code ec;
      fs::resize_file(path, size, ec);
      if (ec) return absl::DataLossError(absl::StrCat(path, ": cannot resume: ", ec.message()));
    }
    File file{path, std::make_unique<std::ofstream>(path, std::ios::app | std::ios::binary), size};
    if (!*file.stream) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
    outputs.files_.emplace(stem, std::move(file));
  }
  return outputs;
}

void FilterOutputs::Write(const std::string& stem, const nlohmann::json& row) {
  File& file = files_.at(stem);
  const std::string line = DumpJson(row) + "\n";
  *file.stream << line;
  if (!*file.stream && file.error == 0) file.error = errno;  // the failed write(2) under the stream left it
  file.size += line.size();
}

absl::Status FilterOutputs::Flush() {
  for (auto& [stem, file] : files_) {
    errno = 0;
    file.stream->flush();
    if (!*file.stream && file.error == 0) file.error = errno;
    // The stream keeps no error code of its own: the reason is the errno of the write(2) that failed
    // (ENOSPC, EDQUOT, EIO).
    if (!*file.stream)
      return absl::DataLossError(absl::StrCat(fs::path(file.path).filename().string(), ": write failed",
                                              file.error != 0 ? absl::StrCat(": ", std::strerror(file.error)) : ""));
  }
  return absl::OkStatus();
}

std::map<std::string, uint64_t> FilterOutputs::Sizes() const {
  std::map<std::string, uint64_t> sizes;
  for (const auto& [stem, file] : files_) sizes[stem] = file.size;
  return sizes;
}

}  // namespace sparsegate::offline
