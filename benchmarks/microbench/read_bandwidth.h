// Streaming-read bandwidth, the bound on how fast decode can stream weights.
#pragma once

#include <cstddef>

namespace microbench {

struct ReadBandwidth {
  double best_gbs = 0;    // best repetition, 1e9 bytes/s (STREAM reports the best)
  double median_gbs = 0;  // median repetition, 1e9 bytes/s
  double min_cpu_share = 1;  // see RunTiming; below about 0.95 the machine was busy
};

// Measures the rate at which num_threads pinned threads read total_bytes (split evenly,
// each thread reading its own slice it first touched) with vector loads, over
// num_repetitions passes. total_bytes should be many times the last-level cache.
ReadBandwidth measure_read_bandwidth(int num_threads, std::size_t total_bytes,
                                     int num_repetitions);

}  // namespace microbench
