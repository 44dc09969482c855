// The record of how far a filter run got, kept in <output>/.filter-state/progress.json and written
// atomically after every batch. A killed run restarts from it: the outputs are cut back to
// `sizes`, the input is read again from `input_offset` (line `next_line`), and the counters go on.
//
// `settings` holds everything that changes a decision (FilterSettings in filter_job.cc); a run
// whose settings differ refuses to continue. `duplicates` maps a line to the line where its id
// first appeared, found by the calibration pass over the whole input.
//
// Load checks every field's presence, type and range, and names the file and the field when one
// is wrong, so a damaged file is a clear error rather than an exception.
#ifndef SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_PROGRESS_H_
#define SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_PROGRESS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate::offline {

struct FilterProgress {
  nlohmann::json settings = nlohmann::json::object();
  std::map<int64_t, int64_t> duplicates;  // line -> first line with the same id
  int64_t shard_rows = 0;                 // non-blank lines of this shard, for the progress bar
  int64_t outcome_rows = 0;               // rows of the outcomes file found in the input
  int64_t input_offset = 0;               // byte offset of the next unread input line
  int64_t next_line = 0;                  // lines consumed before input_offset
  int64_t rows_done = 0;
  int64_t rejected = 0;
  std::map<std::string, uint64_t> sizes;  // output stem ("kept", ...) -> bytes written
  bool done = false;

  nlohmann::json ToJson() const;
  // `path` only names the file in errors.
  static absl::StatusOr<FilterProgress> FromJson(const nlohmann::json& json, const std::string& path);

  static absl::StatusOr<FilterProgress> Load(const std::string& path);
  absl::Status Save(const std::string& path) const;
};

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_PROGRESS_H_
