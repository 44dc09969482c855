// Keeps the forward pass's large temporaries in the process heap.
//
// glibc serves an allocation above its mmap threshold (128 KiB at first, adapting up to 32 MiB)
// with fresh pages from mmap and unmaps them on free, so every op of a batched forward whose
// result is that large (a full batch's attention scores, for one) pays page faults to zero new
// memory. On the embedded model that was 80% of the forward's time (docs/speed.md). Raising the
// mmap and trim thresholds to 1 GiB lets freed buffers be reused instead; the cost is that up to
// that much freed memory stays with the process. A thread other than the main one allocates from
// an arena of 64 MiB heaps, which sends anything near that size to mmap whatever the threshold:
// the service's model worker is such a thread, so one arena serves every thread (small blocks
// still come from each thread's lock-free cache). glibc only; process-wide; idempotent; best
// called before threads start (the CLI's main does).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_CPU_ALLOCATOR_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_CPU_ALLOCATOR_H_

namespace sparsegate {

// Called by the CLI at start-up and by DecoderModel::Load for a model on the CPU. SPARSEGATE_KEEP_MALLOC_DEFAULTS=1 in the
// environment leaves glibc's settings alone (for comparison, or when an embedding program tunes
// malloc itself).
void KeepLargeTensorsInHeap();

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_CPU_ALLOCATOR_H_
