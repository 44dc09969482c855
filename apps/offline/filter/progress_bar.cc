#include "apps/offline/filter/progress_bar.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace sparsegate::offline {

ProgressBar::ProgressBar(bool enabled, int64_t total, int64_t done)
    : enabled_(enabled), total_(std::max<int64_t>(total, 1)), start_done_(done),
      start_(std::chrono::steady_clock::now()), last_draw_(start_), done_(done) {}

void ProgressBar::Update(int64_t done) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  Draw(done);
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  Draw(done_);
  std::fputc('\n', stderr);
}

void ProgressBar::Draw(int64_t done) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int filled = static_cast<int>(fraction * kWidth);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done - start_done_) / seconds : 0;
  const int64_t left = rate > 0 ? static_cast<int64_t>(static_cast<double>(total_ - done) / rate) : -1;
  std::string eta = left < 0 ? "--:--" : std::to_string(left / 60) + ":" + (left % 60 < 10 ? "0" : "") +
                                           std::to_string(left % 60);
  std::fprintf(stderr, "\r[%s%s] %3.0f%% %lld/%lld rows  %.1f rows/s  ETA %s ", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), 100 * fraction, static_cast<long long>(done),
               static_cast<long long>(total_), rate, eta.c_str());
  std::fflush(stderr);
}

}  // namespace sparsegate::offline
