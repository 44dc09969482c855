// Time as the service reports it: a steady clock, durations in milliseconds.
#pragma once

#include <chrono>

namespace sparsegate {

using SteadyClock = std::chrono::steady_clock;

inline double MillisSince(SteadyClock::time_point start, SteadyClock::time_point end = SteadyClock::now()) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

}  // namespace sparsegate
