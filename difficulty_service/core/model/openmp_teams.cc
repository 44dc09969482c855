#include "difficulty_service/core/model/openmp_teams.h"

#include <dlfcn.h>

namespace sparsegate {

bool ReleaseOpenMpTeamOfThisThread() {
  using PauseAll = int (*)(int);
  static const auto pause_all = reinterpret_cast<PauseAll>(dlsym(RTLD_DEFAULT, "omp_pause_resource_all"));
  constexpr int kOmpPauseSoft = 1;  // omp_pause_soft in omp.h
  return pause_all != nullptr && pause_all(kOmpPauseSoft) == 0;
}

}  // namespace sparsegate
