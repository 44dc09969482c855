// ReadFile returns a whole (small) file's bytes, or an error that names the path and the reason:
// NotFound when it does not exist, PermissionDenied when it may not be read, Internal otherwise.
// For configuration-sized files (JSON, PEM certificates, token lists, checkpoints of the plugin);
// datasets and weights are streamed or mapped instead. ReadPemFile also checks that the file holds
// a PEM block of the given label ("CERTIFICATE", "PRIVATE KEY"), because gRPC checks PEM only at
// the first handshake, and then only logs.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_COMMON_READ_FILE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_COMMON_READ_FILE_H_

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sparsegate {

inline absl::StatusOr<std::string> ReadFile(const std::string& path) {
  auto failed = [&path](const char* what, int error) {
    const std::string message = path + ": " + what + ": " + std::strerror(error);
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed("cannot open", errno);
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return failed("cannot read", error);  // a directory, an I/O error
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return contents;
}

inline absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view label) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem;
  // "-----BEGIN EC PRIVATE KEY-----" is as good a private key as "-----BEGIN PRIVATE KEY-----".
  if (pem->find("-----BEGIN ") == std::string::npos || pem->find(std::string(label) + "-----") == std::string::npos) {
    std::string name(label);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return absl::InvalidArgumentError(path + ": no PEM " + name + " in it");
  }
  return pem;
}

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_COMMON_READ_FILE_H_
