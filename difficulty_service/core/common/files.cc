#include "difficulty_service/core/common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace sparsegate {
namespace {

constexpr size_t kShownPathBytes = 256;

absl::Status PathError(const std::string& path, const char* what, int error) {
  std::string message = absl::StrCat(QuotedPath(path), ": ", what, ": ", std::strerror(error));
  if (error == ELOOP) absl::StrAppend(&message, " (a symbolic link loop)");
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  if (error == ELOOP || error == ENAMETOOLONG || error == ENOTDIR || error == EINVAL || error == EISDIR ||
      error == ENXIO || error == ENODEV)  // ENXIO: a socket, or a FIFO with no writer
    return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

const char* KindName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string QuotedPath(std::string_view path) {
  // Debian's Abseil has its own string_view, not std's.
  const absl::string_view shown(path.data(), std::min(path.size(), kShownPathBytes));
  if (path.size() <= kShownPathBytes) return absl::CHexEscape(shown);
  return absl::StrCat(absl::CHexEscape(shown), "... (", path.size(), " bytes)");
}

absl::Status CheckNoNulByte(const std::string& path) {
  if (path.find('\0') == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(QuotedPath(path), ": a path cannot hold a NUL byte"));
}

absl::StatusOr<FileKind> KindOf(const std::string& path) {
  if (absl::Status s = CheckNoNulByte(path); !s.ok()) return s;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    // A symbolic link to nothing is not an absent file: the operator meant something to be there.
    if (error == ENOENT && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return absl::InvalidArgumentError(absl::StrCat(QuotedPath(path), ": a symbolic link to a file that does not exist"));
    if (error == ENOENT) return FileKind::kMissing;
    return PathError(path, "cannot look up", error);
  }
  if (S_ISREG(st.st_mode)) return FileKind::kRegular;
  if (S_ISDIR(st.st_mode)) return FileKind::kDirectory;
  return FileKind::kOther;
}

absl::StatusOr<RegularFile> RegularFile::Open(const std::string& path, int64_t max_bytes) {
  if (absl::Status s = CheckNoNulByte(path); !s.ok()) return s;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int error = errno;
    struct stat st;
    // A socket cannot be opened at all (ENXIO); say what it is rather than "no such device".
    if (error == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return absl::InvalidArgumentError(absl::StrCat(QuotedPath(path), ": ", KindName(st.st_mode), ", not a regular file"));
    return PathError(path, "cannot open", error);
  }
  RegularFile file(fd, 0);
  struct stat st;
  if (::fstat(fd, &st) != 0) return PathError(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode))
    return absl::InvalidArgumentError(absl::StrCat(QuotedPath(path), ": ", KindName(st.st_mode), ", not a regular file"));
  if (st.st_size > max_bytes)
    return absl::InvalidArgumentError(
        absl::StrCat(QuotedPath(path), ": ", st.st_size, " bytes, over the limit of ", max_bytes, " for this file"));
  file.size_ = st.st_size;
  return file;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::string> ReadFile(const std::string& path, int64_t max_bytes) {
  absl::StatusOr<RegularFile> file = RegularFile::Open(path, max_bytes);
  if (!file.ok()) return file.status();
  std::string contents;
  contents.reserve(static_cast<size_t>(file->size()));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(file->fd(), buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return PathError(path, "cannot read", errno);
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    // A file that grows while it is read (or a /proc file, whose size reads 0) is bounded too.
    if (static_cast<int64_t>(contents.size()) > max_bytes)
      return absl::InvalidArgumentError(
          absl::StrCat(QuotedPath(path), ": more than ", max_bytes, " bytes, over the limit for this file"));
  }
  return contents;
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view label) {
  absl::StatusOr<std::string> pem = ReadFile(path, int64_t{16} << 20);
  if (!pem.ok()) return pem;
  // "-----BEGIN EC PRIVATE KEY-----" is as good a private key as "-----BEGIN PRIVATE KEY-----".
  if (pem->find("-----BEGIN ") == std::string::npos || pem->find(std::string(label) + "-----") == std::string::npos) {
    std::string name(label);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return absl::InvalidArgumentError(QuotedPath(path) + ": no PEM " + name + " in it");
  }
  return pem;
}

}  // namespace sparsegate
