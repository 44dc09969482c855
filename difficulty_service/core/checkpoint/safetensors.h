// Reads a .safetensors file: an 8-byte little-endian header length N, a JSON
// header of N bytes, then a byte buffer holding every tensor.
//
// Open() validates the header by the format's rules before anything is used:
// N is bounded and inside the file; every entry has a known dtype, a shape of
// non-negative dims and data_offsets [begin, end]; dtype size x element count
// equals end - begin; the entries tile the buffer exactly (contiguous, no
// gaps or overlaps, ending at the end of the file); names are unique. The
// file is memory-mapped; tensor views point into the mapping.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_SAFETENSORS_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/checkpoint/mapped_file.h"

namespace sparsegate {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as written in safetensors headers.
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct TensorView {
  DType dtype;
  std::vector<int64_t> shape;
  const unsigned char* data;  // into the file's mapping; valid while the file lives
  size_t nbytes;

  int64_t numel() const;
  std::string ShapeString() const;  // "[4, 64]"
};

class SafetensorsFile {
 public:
  // The header is capped at 100 MB, as the format's reference reader does.
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const MappedFile& file() const { return *file_; }
  // Keeps the mapping alive for views handed out beyond this object's life.
  std::shared_ptr<const MappedFile> shared_file() const { return file_; }

 private:
  explicit SafetensorsFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  absl::Status ParseHeader();

  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_CHECKPOINT_SAFETENSORS_H_
