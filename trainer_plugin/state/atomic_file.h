// Crash-safe whole-file writes (reads: difficulty_service/core/common/files.h). A reader of `path` sees either the old file or
// the new one, never a mix, even if the process or the machine dies during the write: the bytes go
// to a temporary file in the same directory (so the rename cannot cross file systems), which is
// fsynced, renamed over `path`, and then the directory is fsynced so the rename itself is durable.
// Errors name the file and the failing system call.
#ifndef SPARSEGATE_TRAINER_PLUGIN_STATE_ATOMIC_FILE_H_
#define SPARSEGATE_TRAINER_PLUGIN_STATE_ATOMIC_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sparsegate::plugin {

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_STATE_ATOMIC_FILE_H_
