// Lets a thread that is done with ATen give back its OpenMP helper threads.
//
// OpenMP keeps a team of helper threads for every thread that has run a parallel region (each
// BLAS product and larger ATen kernel is one), and libgomp stops spinning between regions, and
// sleeps in the kernel instead, once it manages more threads than there are cores. A thread that
// loads and warms up a model before a worker thread serves it leaves an idle team behind: on the
// 2-core development machine every forward of the worker then paid a kernel wake-up per region,
// 2.7 ms instead of 2.3 ms for a 15-token prompt on the embedded model (docs/speed.md). Call this
// where the loading thread hands the model over; the team is made again if the thread computes
// later.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_OPENMP_TEAMS_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_OPENMP_TEAMS_H_

namespace sparsegate {

// OpenMP 5.0's omp_pause_resource_all(omp_pause_soft), looked up at run time so that it reaches
// whichever OpenMP runtime libtorch brought (a pip PyTorch bundles its own libgomp); nothing where
// there is none, or inside a parallel region. Returns whether a runtime took the call.
bool ReleaseOpenMpTeamOfThisThread();

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_OPENMP_TEAMS_H_
