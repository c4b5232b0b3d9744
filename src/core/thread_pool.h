// A fixed pool of compute threads for the CPU kernels.
//
// parallel_for(n, fn) splits [0, n) into contiguous ranges, one per participating thread,
// and calls fn(begin, end) on each; the calling thread runs the first range itself. The
// split depends only on n and the thread count. Kernels keep their results independent of
// it by computing every output element on one thread in an order fixed by the data.
//
// Idle workers spin for a few microseconds, so that the ~300 kernel calls of a decode step
// reuse awake threads, then sleep on a futex: on cores shared with other processes a
// long spin would burn the time slices the other threads need.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace vllm {

// Number of cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

class ThreadPool {
 public:
  // `num_threads` counts the caller: num_threads - 1 workers are started.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool the kernels use, first sized by available_cores().
  static ThreadPool& global();

  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  // Stops the workers and starts num_threads - 1 new ones; waits for a running
  // parallel_for to finish. Throws InvalidArgument for num_threads < 1.
  void resize(int num_threads);

  // Calls fn(begin, end) on contiguous ranges covering [0, n), at most one range per
  // thread and none empty, and returns when all have finished. A call from inside fn (a
  // nested call) runs fn(0, n) serially on its thread. Calls from several threads take
  // turns. If ranges throw, the exception of the lowest range is rethrown here after all
  // ranges have finished. In a child forked from a process that used the pool, the first
  // call starts new workers.
  // NOTE: a fork while another thread runs a parallel_for leaves the child's pool locked.
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn) {
    using Callable = std::remove_reference_t<Fn>;
    run(n, [](void* context, int64_t begin, int64_t end) {
      (*static_cast<Callable*>(context))(begin, end);
    }, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using RangeFn = void (*)(void* context, int64_t begin, int64_t end);

  void run(int64_t n, RangeFn fn, void* context);
  void run_range(int index);
  void worker_loop(int index);
  void start_workers(int num_threads);
  void stop_workers();

  std::mutex call_mutex_;  // one parallel_for or resize at a time
  std::atomic<int> num_threads_{1};
  std::vector<std::thread> workers_;

  // The current job, written by the caller before it bumps generation_.
  RangeFn job_fn_ = nullptr;
  void* job_context_ = nullptr;
  int64_t job_size_ = 0;
  int job_threads_ = 0;                    // participants, caller included
  std::vector<std::exception_ptr> errors_;  // [num_threads], one slot per range

  // Futex words: generation_ counts jobs (workers wait for it to change), num_done_
  // counts workers finished with the current job (the caller waits for it).
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> num_done_{0};
  std::atomic<int> num_sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  bool stopping_ = false;  // written before a generation bump, read after it
  int owner_pid_ = 0;      // process that started workers_; a forked child restarts them
};

// parallel_for on the global pool.
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn) {
  ThreadPool::global().parallel_for(n, std::forward<Fn>(fn));
}

}  // namespace vllm
