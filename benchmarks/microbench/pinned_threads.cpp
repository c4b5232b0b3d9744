#include "pinned_threads.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace microbench {
namespace {

// Pins the calling thread to the index-th CPU of the process's affinity mask, so that the
// benchmark uses the same cores as a process started with the same mask.
void pin_to_allowed_cpu(int index) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ == index) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
      return;
    }
  }
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

RunTiming run_pinned(int num_threads, const std::function<void(int)>& setup,
                  const std::function<void(int)>& work) {
  using Clock = std::chrono::steady_clock;
  std::atomic<int> num_ready{0};
  std::atomic<bool> go{false};
  std::vector<double> wall(num_threads, 0.0);
  std::vector<double> cpu_share(num_threads, 1.0);
  std::vector<std::thread> threads;
  threads.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) {
    threads.emplace_back([&, i] {
      pin_to_allowed_cpu(i);
      setup(i);
      num_ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      const Clock::time_point begin = Clock::now();
      const double cpu_begin = thread_cpu_seconds();
      work(i);
      wall[i] = std::chrono::duration<double>(Clock::now() - begin).count();
      if (wall[i] > 0) cpu_share[i] = (thread_cpu_seconds() - cpu_begin) / wall[i];
    });
  }
  while (num_ready.load() < num_threads) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  for (std::thread& thread : threads) thread.join();
  RunTiming timing;
  for (double seconds : wall) timing.wall_seconds = std::max(timing.wall_seconds, seconds);
  for (double share : cpu_share) timing.min_cpu_share = std::min(timing.min_cpu_share, share);
  return timing;
}

}  // namespace microbench
