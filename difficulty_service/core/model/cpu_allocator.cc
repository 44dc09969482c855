#include "difficulty_service/core/model/cpu_allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sparsegate {

void KeepLargeTensorsInHeap() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* keep = std::getenv("SPARSEGATE_KEEP_MALLOC_DEFAULTS");
    if (keep != nullptr && std::strcmp(keep, "1") == 0) return;
#if defined(__GLIBC__)
    constexpr int kOneGiB = 1 << 30;
    mallopt(M_MMAP_THRESHOLD, kOneGiB);
    mallopt(M_TRIM_THRESHOLD, kOneGiB);
    mallopt(M_ARENA_MAX, 1);
#endif
  });
}

}  // namespace sparsegate
