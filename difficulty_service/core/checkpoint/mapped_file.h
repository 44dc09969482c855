// A read-only memory mapping of a whole file.
//
// Weights are read straight out of the page cache through this mapping: F32
// tensors are used in place and never copied. The mapping lives as long as
// the last shared_ptr to it.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_MAPPED_FILE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_MAPPED_FILE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sparsegate {

class MappedFile {
 public:
  // Maps the regular file `path` read-only: RegularFile::Open's errors (files.h), or Internal
  // when mmap fails; the message names the file.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const unsigned char* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const unsigned char* data_;
  size_t size_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_MAPPED_FILE_H_
