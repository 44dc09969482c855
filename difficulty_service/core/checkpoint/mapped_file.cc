#include "difficulty_service/core/checkpoint/mapped_file.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"

namespace sparsegate {

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(const std::string& path) {
  // Weights have no size bound but the address space; what matters is that a FIFO or a device is
  // refused (RegularFile), since mapping /dev/zero would "succeed".
  absl::StatusOr<RegularFile> file = RegularFile::Open(path, std::numeric_limits<int64_t>::max());
  if (!file.ok()) return file.status();
  const size_t size = static_cast<size_t>(file->size());
  const unsigned char* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file->fd(), 0);
    if (p == MAP_FAILED)
      return absl::InternalError(absl::StrCat(QuotedPath(path), ": mmap: ", std::strerror(errno)));
    data = static_cast<const unsigned char*>(p);
  }
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));  // the mapping outlives the descriptor
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
}

}  // namespace sparsegate
