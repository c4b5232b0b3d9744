// ThreadPool: ranges cover [0, n) exactly once and contiguously, the split depends only on n
// and the thread count, nested calls run serially, exceptions reach the caller, and several
// callers may share one pool.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/thread_pool.h"

namespace vllm {
namespace {

using Range = std::pair<int64_t, int64_t>;

std::vector<Range> collect_ranges(ThreadPool& pool, int64_t n) {
  std::mutex mutex;
  std::vector<Range> ranges;
  pool.parallel_for(n, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    ranges.emplace_back(begin, end);
  });
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

TEST(ThreadPoolTest, RangesCoverOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1001}) {
      const std::vector<Range> ranges = collect_ranges(pool, n);
      ASSERT_EQ(static_cast<int64_t>(ranges.size()), std::min<int64_t>(threads, n))
          << "threads " << threads << " n " << n;
      int64_t next = 0;
      for (const Range& range : ranges) {
        ASSERT_EQ(range.first, next) << "threads " << threads << " n " << n;
        ASSERT_LT(range.first, range.second) << "threads " << threads << " n " << n;
        next = range.second;
      }
      ASSERT_EQ(next, n) << "threads " << threads << " n " << n;
    }
  }
}

TEST(ThreadPoolTest, SplitIsBalanced) {
  ThreadPool pool(3);
  const std::vector<Range> ranges = collect_ranges(pool, 10);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], Range(0, 3));
  EXPECT_EQ(ranges[1], Range(3, 6));
  EXPECT_EQ(ranges[2], Range(6, 10));
}

TEST(ThreadPoolTest, EmptyRangeCallsNothing) {
  ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(0, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPoolTest, UsesSeveralThreads) {
  ThreadPool pool(2);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  pool.parallel_for(2, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u);
}

TEST(ThreadPoolTest, NestedCallRunsSerially) {
  ThreadPool pool(2);
  std::atomic<int> inner_calls{0};
  std::atomic<bool> inner_whole{true};
  pool.parallel_for(2, [&](int64_t, int64_t) {
    const std::thread::id outer = std::this_thread::get_id();
    pool.parallel_for(5, [&](int64_t begin, int64_t end) {
      ++inner_calls;
      if (begin != 0 || end != 5 || std::this_thread::get_id() != outer) inner_whole = false;
    });
  });
  EXPECT_EQ(inner_calls.load(), 2);
  EXPECT_TRUE(inner_whole.load());
}

TEST(ThreadPoolTest, ExceptionReachesCaller) {
  ThreadPool pool(2);
  // The worker's range (the second) throws; the caller's range does not.
  EXPECT_THROW(pool.parallel_for(2,
                                 [](int64_t begin, int64_t) {
                                   if (begin == 1) throw std::runtime_error("worker failed");
                                 }),
               std::runtime_error);
  // Both ranges throw: the lowest range's exception wins.
  try {
    pool.parallel_for(2, [](int64_t begin, int64_t) {
      throw std::runtime_error(begin == 0 ? "first" : "second");
    });
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "first");
  }
  // The pool still works afterwards.
  EXPECT_EQ(collect_ranges(pool, 4).size(), 2u);
}

TEST(ThreadPoolTest, ResizeChangesSplit) {
  ThreadPool pool(1);
  EXPECT_EQ(collect_ranges(pool, 8).size(), 1u);
  pool.resize(4);
  EXPECT_EQ(pool.num_threads(), 4);
  EXPECT_EQ(collect_ranges(pool, 8).size(), 4u);
  pool.resize(2);
  EXPECT_EQ(collect_ranges(pool, 8).size(), 2u);
}

TEST(ThreadPoolTest, RejectsZeroThreads) {
  EXPECT_THROW(ThreadPool pool(0), InvalidArgument);
  ThreadPool pool(1);
  EXPECT_THROW(pool.resize(0), InvalidArgument);
}

TEST(ThreadPoolTest, ManyCallsSumCorrectly) {
  // Many short jobs, the pattern of a decode step, including sleeps between some of them
  // so that workers go through both the spinning and the sleeping wait.
  ThreadPool pool(3);
  std::vector<int64_t> values(1000);
  for (int round = 0; round < 300; ++round) {
    pool.parallel_for(static_cast<int64_t>(values.size()), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) values[i] += i;
    });
    if (round % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()); ++i) {
    ASSERT_EQ(values[i], 300 * i) << "element " << i;
  }
}

TEST(ThreadPoolTest, CallersTakeTurns) {
  ThreadPool pool(2);
  std::vector<int64_t> a(512, 0), b(512, 0);
  auto fill = [&pool](std::vector<int64_t>& v) {
    for (int round = 0; round < 100; ++round) {
      pool.parallel_for(static_cast<int64_t>(v.size()), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) v[i] += 1;
      });
    }
  };
  std::thread other([&] { fill(b); });
  fill(a);
  other.join();
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i], 100) << "element " << i;
    ASSERT_EQ(b[i], 100) << "element " << i;
  }
}

#if defined(__SANITIZE_THREAD__)
#define VLLM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VLLM_TSAN 1
#endif
#endif

TEST(ThreadPoolTest, WorksAfterFork) {
#ifdef VLLM_TSAN
  GTEST_SKIP() << "ThreadSanitizer stops a child that starts threads after a multi-threaded fork";
#endif
  ThreadPool pool(2);
  EXPECT_EQ(collect_ranges(pool, 4).size(), 2u);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child has no workers until the pool restarts them; exit code 0 means both ranges
    // ran on two threads.
    std::mutex mutex;
    std::set<std::thread::id> ids;
    pool.parallel_for(2, [&](int64_t, int64_t) {
      std::lock_guard<std::mutex> lock(mutex);
      ids.insert(std::this_thread::get_id());
    });
    _exit(ids.size() == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ThreadPoolTest, AvailableCoresPositive) { EXPECT_GE(available_cores(), 1); }

}  // namespace
}  // namespace vllm
