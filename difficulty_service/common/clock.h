// Time as the service reports it: a steady clock, durations in milliseconds.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_COMMON_CLOCK_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_COMMON_CLOCK_H_

#include <chrono>

namespace sparsegate {

using SteadyClock = std::chrono::steady_clock;

inline double MillisSince(SteadyClock::time_point start, SteadyClock::time_point end = SteadyClock::now()) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_COMMON_CLOCK_H_
