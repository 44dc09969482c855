#include "difficulty_service/core/checkpoint/safetensors.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "difficulty_service/core/common/json_parse.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

struct DTypeInfo {
  const char* name;
  DType dtype;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {"F32", DType::kF32, 4}, {"F16", DType::kF16, 2}, {"BF16", DType::kBF16, 2},
    {"F64", DType::kF64, 8}, {"I64", DType::kI64, 8}, {"I32", DType::kI32, 4},
    {"I16", DType::kI16, 2}, {"I8", DType::kI8, 1},   {"U8", DType::kU8, 1},
    {"BOOL", DType::kBool, 1},
};

const DTypeInfo* FindDType(const std::string& name) {
  for (const auto& info : kDTypes)
    if (name == info.name) return &info;
  return nullptr;
}

const DTypeInfo& Info(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info;
  return kDTypes[0];  // unreachable: every enumerator is listed
}

// nlohmann::json keeps the last of duplicate keys without a word, and the format forbids them. A
// SAX pass over the header finds them in linear time: nlohmann's parse callback would do it too,
// but its DOM builder then rescans the top-level object after every tensor entry, so that a header
// of 100,000 tensors took minutes to refuse.
class DuplicateKeyFinder : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth_, true; }
  bool end_object() override { return --depth_, true; }
  bool start_array(std::size_t) override { return ++depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(string_t& key) override {
    if (depth_ == 1 && !seen_.insert(key).second) {
      duplicate_ = key;
      return false;  // stop here: the header is refused
    }
    return true;
  }
  bool parse_error(std::size_t byte, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = absl::StrCat(JsonErrorWithoutText(e.what()), " (byte ", byte, " of the header)");
    return false;
  }

  const std::string& duplicate() const { return duplicate_; }
  const std::string& error() const { return error_; }

 private:
  int depth_ = 0;
  std::unordered_set<std::string> seen_;
  std::string duplicate_, error_;
};

absl::StatusOr<nlohmann::json> ParseRejectingDuplicates(const char* begin, const char* end,
                                                        const std::string& path) {
  if (absl::Status depth = CheckJsonDepth(std::string_view(begin, end - begin)); !depth.ok())
    return absl::DataLossError(absl::StrCat(QuotedPath(path), ": safetensors header: ", depth.message()));
  DuplicateKeyFinder finder;
  // Errors are values here: the finder's parse_error returns false instead of throwing.
  const bool complete = nlohmann::json::sax_parse(begin, end, &finder);
  if (!finder.duplicate().empty())
    return absl::DataLossError(absl::StrCat(QuotedPath(path), ": safetensors header names tensor '", finder.duplicate(),
                                            "' more than once"));
  if (!complete || !finder.error().empty())
    return absl::DataLossError(absl::StrCat(QuotedPath(path), ": safetensors header is not valid JSON: ", finder.error()));
  try {
    return nlohmann::json::parse(begin, end);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
    return absl::DataLossError(
        absl::StrCat(QuotedPath(path), ": safetensors header is not valid JSON: ", JsonErrorWithoutText(e.what())));
  }
}

}  // namespace

const char* DTypeName(DType dtype) { return Info(dtype).name; }
size_t DTypeSize(DType dtype) { return Info(dtype).size; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::ShapeString() const { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(*std::move(mapped)));
  absl::Status status = file->ParseHeader();
  if (!status.ok()) return status;
  return file;
}

absl::Status SafetensorsFile::ParseHeader() {
  const std::string& path = file_->path();
  const size_t file_size = file_->size();
  if (file_size < 8)
    return absl::DataLossError(absl::StrCat(path, ": ", file_size, " bytes is too short for a safetensors file"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file_->data()[i];
  // The length is not echoed: it is the file's first 8 bytes, whatever file this is.
  if (header_len > kMaxHeaderBytes)
    return absl::DataLossError(absl::StrCat(QuotedPath(path), ": not a safetensors file (its header length, the first 8 bytes, ",
                                            "exceeds the ", kMaxHeaderBytes, "-byte limit)"));
  if (header_len > file_size - 8)
    return absl::DataLossError(absl::StrCat(QuotedPath(path), ": not a safetensors file, or truncated (its header length, the ",
                                            "first 8 bytes, runs past the end of the ", file_size, "-byte file)"));
  const char* header_begin = reinterpret_cast<const char*>(file_->data() + 8);
  auto header = ParseRejectingDuplicates(header_begin, header_begin + header_len, path);
  if (!header.ok()) return header.status();
  if (!header->is_object())
    return absl::DataLossError(absl::StrCat(path, ": safetensors header is not a JSON object"));

  const unsigned char* buffer = file_->data() + 8 + header_len;
  const uint64_t buffer_size = file_size - 8 - header_len;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;

  for (const auto& item : header->items()) {
    // Named references: C++17 lambdas cannot capture structured bindings (clang refuses it).
    const std::string& name = item.key();
    const nlohmann::json& entry = item.value();
    auto bad = [&](const std::string& why) {
      return absl::DataLossError(absl::StrCat(path, ": tensor '", name, "': ", why));
    };
    if (name == "__metadata__") {
      if (!entry.is_object()) return bad("__metadata__ must be an object of strings");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) return bad(absl::StrCat("__metadata__ value for '", k, "' is not a string"));
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) return bad("entry is not an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return bad("missing string 'dtype'");
    if (shape_it == entry.end() || !shape_it->is_array()) return bad("missing array 'shape'");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2)
      return bad("'data_offsets' must be [begin, end]");
    const DTypeInfo* dtype = FindDType(dtype_it->get<std::string>());
    if (dtype == nullptr) return bad(absl::StrCat("unknown dtype '", dtype_it->get<std::string>(), "'"));

    TensorView view{dtype->dtype, {}, nullptr, 0};
    uint64_t numel = 1;
    for (const auto& dim : *shape_it) {
      if (!dim.is_number_unsigned()) return bad("shape entries must be non-negative integers");
      uint64_t d = dim.get<uint64_t>();
      if (d != 0 && numel > UINT64_MAX / d) return bad("shape overflows");
      numel *= d;
      view.shape.push_back(static_cast<int64_t>(d));
    }
    const auto& offsets = *offsets_it;
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return bad("data_offsets must be non-negative integers");
    uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end) return bad(absl::StrCat("data_offsets [", begin, ", ", end, "] are reversed"));
    if (end > buffer_size)
      return bad(absl::StrCat("data_offsets end ", end, " is past the ", buffer_size, "-byte data buffer"));
    if (numel > UINT64_MAX / dtype->size || numel * dtype->size != end - begin)
      return bad(absl::StrCat(dtype->name, " ", view.ShapeString(), " needs ", numel * dtype->size,
                              " bytes but data_offsets span ", end - begin));
    view.data = buffer + begin;
    view.nbytes = end - begin;
    tensors_.emplace(name, std::move(view));
    spans.push_back({begin, end, name});
  }

  // Contiguity: sorted by offset, the spans must tile [0, buffer_size).
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t expected = 0;
  for (const Span& span : spans) {
    if (span.begin != expected)
      return absl::DataLossError(absl::StrCat(path, ": tensor '", span.name, "' starts at byte ", span.begin,
                                              " but the previous tensor ends at ", expected,
                                              " (tensors must be contiguous)"));
    expected = span.end;
  }
  if (expected != buffer_size)
    return absl::DataLossError(absl::StrCat(path, ": tensors end at byte ", expected, " but the data buffer has ",
                                            buffer_size, " bytes"));
  return absl::OkStatus();
}

}  // namespace sparsegate
