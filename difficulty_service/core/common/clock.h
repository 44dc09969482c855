// Time as the project reports it: a steady clock for durations in milliseconds, and the wall clock
// as ISO 8601 for the time a report was made.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_CLOCK_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_CLOCK_H_

#include <chrono>
#include <ctime>
#include <string>

namespace sparsegate {

using SteadyClock = std::chrono::steady_clock;

inline double MillisSince(SteadyClock::time_point start, SteadyClock::time_point end = SteadyClock::now()) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// The current UTC time as ISO 8601 ("2026-12-02T10:30:00Z").
inline std::string IsoTimeNow() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_COMMON_CLOCK_H_
