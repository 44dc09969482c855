// Every file a user names (a model directory's files, certificates, token lists, plugin checkpoints)
// is opened here, the same careful way: as a regular file only, so that a FIFO, a device or a socket
// can neither block the caller nor feed it without end; never more than a stated number of bytes;
// and every failure a Status naming the path and the reason, never an exception (a symbolic-link
// loop or a name too long is an error like any other). Paths are quoted through QuotedPath wherever
// they reach a message or a log line, because a path can come from a client (Reload).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_FILES_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sparsegate {

// ReadFile's default bound: above any tokenizer.json of a public model (Gemma 3's is 33 MB).
inline constexpr int64_t kMaxReadFileBytes = int64_t{128} << 20;

// `path` fit for a message: non-printable bytes, quotes and backslashes escaped (a newline or a
// terminal escape cannot forge a log line), and at most 256 bytes of it shown, with the total.
std::string QuotedPath(std::string_view path);

// InvalidArgument naming the path when it holds a NUL byte, which no system call can be given
// (the C string would end there and name another file); OK otherwise.
absl::Status CheckNoNulByte(const std::string& path);

enum class FileKind { kMissing, kRegular, kDirectory, kOther };

// What `path` names, following symbolic links. A path that cannot be resolved for any reason but
// absence (a link loop, a link to nothing, a component or path too long, a parent that may not be
// searched) is an error naming it: InvalidArgument, or PermissionDenied.
absl::StatusOr<FileKind> KindOf(const std::string& path);

// An open, read-only descriptor of a regular file whose size was at most `max_bytes` when opened.
// Opening never blocks (a FIFO is refused, not waited on). Closes on destruction.
class RegularFile {
 public:
  // NotFound when `path` does not exist, PermissionDenied when it may not be read, InvalidArgument
  // when it is not a regular file or is larger than max_bytes, each naming the path.
  static absl::StatusOr<RegularFile> Open(const std::string& path, int64_t max_bytes);

  RegularFile(RegularFile&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
  RegularFile& operator=(RegularFile&&) = delete;
  RegularFile(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  int64_t size() const { return size_; }

 private:
  RegularFile(int fd, int64_t size) : fd_(fd), size_(size) {}
  int fd_;
  int64_t size_;
};

// The whole of a regular file of at most `max_bytes` (RegularFile::Open's errors; Internal when
// reading fails, and InvalidArgument if the file grows past the bound while it is read).
absl::StatusOr<std::string> ReadFile(const std::string& path, int64_t max_bytes = kMaxReadFileBytes);

// ReadFile, then a check that the file holds a PEM block of the given label ("CERTIFICATE",
// "PRIVATE KEY"), because gRPC checks PEM only at the first handshake, and then only logs.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view label);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_FILES_H_
