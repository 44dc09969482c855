#include "difficulty_service/checkpoint/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "difficulty_service/common/json_parse.h"
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

// nlohmann::json keeps the last of duplicate keys without a word; the format
// forbids them, so the parse callback watches the top-level keys.
absl::StatusOr<nlohmann::json> ParseRejectingDuplicates(const char* begin, const char* end,
                                                        const std::string& path) {
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  if (absl::Status depth = CheckJsonDepth(std::string_view(begin, end - begin)); !depth.ok())
    return absl::DataLossError(absl::StrCat(path, ": safetensors header: ", depth.message()));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(begin, end, callback);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
    return absl::DataLossError(absl::StrCat(path, ": safetensors header is not valid JSON: ", e.what()));
  }
  if (!duplicate.empty())
    return absl::DataLossError(absl::StrCat(path, ": safetensors header names tensor '", duplicate,
                                            "' more than once"));
  return header;
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
  if (header_len > kMaxHeaderBytes)
    return absl::DataLossError(absl::StrCat(path, ": safetensors header length ", header_len,
                                            " exceeds the ", kMaxHeaderBytes, "-byte limit"));
  if (header_len > file_size - 8)
    return absl::DataLossError(absl::StrCat(path, ": safetensors header length ", header_len,
                                            " runs past the end of the ", file_size, "-byte file"));
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
