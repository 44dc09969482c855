#include "trainer_plugin/state/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {
namespace {

absl::Status ErrnoError(int error, const char* what, const std::string& path) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  return error == ENOENT ? absl::NotFoundError(message) : absl::InternalError(message);
}

// Closes the descriptor on every exit path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  // Unique per process and per call, so two writers of the same path never share a temp file.
  static std::atomic<uint64_t> counter{0};
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
  FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return ErrnoError(errno, "cannot create", temp);

  absl::Status status = absl::OkStatus();
  for (size_t written = 0; written < contents.size() && status.ok();) {
    const ssize_t n = ::write(fd.get(), contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = ErrnoError(errno, "cannot write", temp);
    else written += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd.get()) != 0) status = ErrnoError(errno, "cannot fsync", temp);
  if (status.ok() && ::close(fd.Release()) != 0) status = ErrnoError(errno, "cannot close", temp);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) status = ErrnoError(errno, "cannot rename onto", path);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }

  std::string directory = std::filesystem::path(path).parent_path().string();
  if (directory.empty()) directory = ".";
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return ErrnoError(errno, "cannot open directory", directory);
  if (::fsync(dir.get()) != 0) return ErrnoError(errno, "cannot fsync directory", directory);
  return absl::OkStatus();
}

}  // namespace sparsegate::plugin
