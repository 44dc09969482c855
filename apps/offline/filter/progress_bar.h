// A one-line progress bar on stderr, with the rate and the time left, for long offline jobs.
// Drawn only when enabled (the caller passes isatty(stderr)); at most five times a second, so a
// fast job does not spend its time on the terminal. Written by hand: it is twenty lines, and the
// libraries that do this are not packaged for Debian.
#ifndef SPARSEGATE_APPS_OFFLINE_FILTER_PROGRESS_BAR_H_
#define SPARSEGATE_APPS_OFFLINE_FILTER_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>

namespace sparsegate::offline {

class ProgressBar {
 public:
  // `done`: rows already done by an earlier run (not counted in the rate).
  ProgressBar(bool enabled, int64_t total, int64_t done);
  void Update(int64_t done);
  void Finish();

 private:
  void Draw(int64_t done);

  const bool enabled_;
  const int64_t total_;
  const int64_t start_done_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  int64_t done_ = 0;
};

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_FILTER_PROGRESS_BAR_H_
