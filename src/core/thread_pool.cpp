#include "core/thread_pool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include <fmt/format.h>

#include "core/errors.h"

namespace vllm {
namespace {

// How long a waiting thread polls before it sleeps. Longer than the gap between two kernel
// calls of a decode step (a few microseconds), much shorter than a scheduler time slice.
constexpr auto kSpinTime = std::chrono::microseconds(50);

// True on pool workers and on a caller while it runs its own range: a parallel_for there
// is nested and runs serially.
thread_local bool t_inside_parallel_for = false;

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

// Returns getpid() from a cache: run() compares it on every kernel call, and getpid is a
// system call (over 300 per SmolLM2 decode step). A pthread_atfork child handler refreshes
// the cache in each forked child before fork returns there.
std::atomic<int> g_pid{0};

int current_pid() {
  static const bool registered = [] {
    g_pid.store(getpid(), std::memory_order_relaxed);
    pthread_atfork(nullptr, nullptr, [] { g_pid.store(getpid(), std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
  return g_pid.load(std::memory_order_relaxed);
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls until done() is true or kSpinTime has passed, and returns done().
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return std::max(1, CPU_COUNT(&set));
}

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads < 1) {
    throw InvalidArgument(fmt::format("num_threads must be at least 1, got {}", num_threads));
  }
  start_workers(num_threads);
}

ThreadPool::~ThreadPool() {
  std::lock_guard<std::mutex> lock(call_mutex_);
  if (owner_pid_ != current_pid()) {
    new std::vector<std::thread>(std::move(workers_));  // see run(): unjoinable after fork
    workers_.clear();
  }
  stop_workers();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(available_cores());
  return pool;
}

void ThreadPool::resize(int num_threads) {
  if (num_threads < 1) {
    throw InvalidArgument(fmt::format("num_threads must be at least 1, got {}", num_threads));
  }
  std::lock_guard<std::mutex> lock(call_mutex_);
  if (num_threads == this->num_threads() && owner_pid_ == current_pid()) return;
  if (owner_pid_ != current_pid()) {
    new std::vector<std::thread>(std::move(workers_));  // see run(): unjoinable after fork
    workers_.clear();
  }
  stop_workers();
  start_workers(num_threads);
}

void ThreadPool::start_workers(int num_threads) {
  owner_pid_ = current_pid();
  stopping_ = false;
  errors_.assign(static_cast<size_t>(num_threads), nullptr);
  num_threads_.store(num_threads, std::memory_order_relaxed);
  const uint32_t generation = generation_.load(std::memory_order_relaxed);
  for (int i = 1; i < num_threads; ++i) {
    workers_.emplace_back([this, i, generation] {
      t_inside_parallel_for = true;
      uint32_t seen = generation;
      for (;;) {
        // Wait for the next job: spin, then sleep until the caller bumps generation_.
        const auto changed = [&] { return generation_.load(std::memory_order_seq_cst) != seen; };
        if (!spin_until(changed)) {
          num_sleeping_workers_.fetch_add(1, std::memory_order_seq_cst);
          while (!changed()) futex_wait(&generation_, seen);
          num_sleeping_workers_.fetch_sub(1, std::memory_order_seq_cst);
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stopping_) return;
        if (i < job_threads_) run_range(i);
        // Every worker reports, participant or not, so that the caller may overwrite the
        // job fields once all have reported.
        num_done_.fetch_add(1, std::memory_order_seq_cst);
        if (caller_sleeping_.load(std::memory_order_seq_cst)) futex_wake_all(&num_done_);
      }
    });
  }
}

void ThreadPool::stop_workers() {
  stopping_ = true;
  generation_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&generation_);
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
}

void ThreadPool::run_range(int index) {
  const int64_t begin = job_size_ * index / job_threads_;
  const int64_t end = job_size_ * (index + 1) / job_threads_;
  try {
    job_fn_(job_context_, begin, end);
  } catch (...) {
    errors_[static_cast<size_t>(index)] = std::current_exception();
  }
}

void ThreadPool::run(int64_t n, RangeFn fn, void* context) {
  if (n <= 0) return;
  if (t_inside_parallel_for) {
    fn(context, 0, n);
    return;
  }
  std::lock_guard<std::mutex> lock(call_mutex_);
  if (owner_pid_ != current_pid()) {
    // A forked child has none of the parent's workers. Their handles cannot be joined
    // there, so they are leaked rather than destroyed, and new workers start.
    new std::vector<std::thread>(std::move(workers_));
    workers_.clear();
    start_workers(num_threads());
  }
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), n));
  t_inside_parallel_for = true;
  if (threads == 1) {
    try {
      fn(context, 0, n);
    } catch (...) {
      t_inside_parallel_for = false;
      throw;
    }
    t_inside_parallel_for = false;
    return;
  }

  job_fn_ = fn;
  job_context_ = context;
  job_size_ = n;
  job_threads_ = threads;
  std::fill(errors_.begin(), errors_.end(), nullptr);
  num_done_.store(0, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (num_sleeping_workers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(&generation_);

  run_range(0);
  t_inside_parallel_for = false;

  const auto num_workers = static_cast<uint32_t>(workers_.size());
  const auto all_done = [&] { return num_done_.load(std::memory_order_seq_cst) == num_workers; };
  if (!spin_until(all_done)) {
    caller_sleeping_.store(true, std::memory_order_seq_cst);
    for (uint32_t done = num_done_.load(std::memory_order_seq_cst); done != num_workers;
         done = num_done_.load(std::memory_order_seq_cst)) {
      futex_wait(&num_done_, done);
    }
    caller_sleeping_.store(false, std::memory_order_relaxed);
  }

  for (const std::exception_ptr& error : errors_) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace vllm
