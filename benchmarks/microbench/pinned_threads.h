// Runs one function on several threads, each pinned to its own CPU, started together.
#pragma once

#include <functional>

namespace microbench {

struct RunTiming {
  // Longest thread's wall time from its own start to its finish. Each thread starts its
  // clock when it sees the release, so that the time a busy scheduler takes to wake the
  // threads is not counted.
  double wall_seconds = 0;
  // Smallest ratio over the threads of thread CPU time to its own wall time: below 1 when
  // other processes took the CPU, which makes the rates of that run too low.
  double min_cpu_share = 1;
};

// Runs work(thread_index) on num_threads threads pinned to the first num_threads CPUs the
// process may use, released together after setup, and times them.
// setup(thread_index) runs first on the same pinned thread, outside the timed part, so
// that buffers are first touched by the thread that reads them.
RunTiming run_pinned(int num_threads, const std::function<void(int)>& setup,
                  const std::function<void(int)>& work);

}  // namespace microbench
