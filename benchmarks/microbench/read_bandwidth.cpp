#include "read_bandwidth.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pinned_threads.h"

namespace microbench {
namespace {

// Slices start on a 2 MiB boundary and are advised to transparent huge pages, as the engine
// keeps its weights. On the development VM the same reads ran at 40-51 GB/s from 4 KiB pages
// and at 64 GB/s from huge pages.
constexpr std::size_t kAlignment = std::size_t{2} << 20;
// 8 vectors of 64 bytes per iteration; slices are rounded down to a multiple.
constexpr std::size_t kBytesPerIteration = 512;
constexpr std::size_t kPrefetchBytes = 8192;

// Sums the 64-bit words of [data, data + num_bytes). Several independent accumulators keep
// the loop bound by loads, not by the latency of the adds.
std::uint64_t sum_words(const std::uint64_t* data, std::size_t num_bytes) {
#if defined(__AVX512F__)
  __m512i acc[8];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  const char* p = reinterpret_cast<const char*>(data);
  for (std::size_t offset = 0; offset < num_bytes; offset += kBytesPerIteration) {
    // As the engine's kernels do: prefetch into L2 8 KiB ahead, which reads faster than the
    // hardware prefetcher alone.
    for (int k = 0; k < 8; ++k) _mm_prefetch(p + offset + kPrefetchBytes + 64 * k, _MM_HINT_T1);
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      acc[k] = _mm512_add_epi64(acc[k], _mm512_load_si512(p + offset + 64 * k));
    }
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm512_add_epi64(acc[0], acc[k]);
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(acc[0]));
#elif defined(__AVX2__)
  __m256i acc[8];
  for (__m256i& a : acc) a = _mm256_setzero_si256();
  const char* p = reinterpret_cast<const char*>(data);
  for (std::size_t offset = 0; offset < num_bytes; offset += 256) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      acc[k] = _mm256_add_epi64(
          acc[k], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + offset + 32 * k)));
    }
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm256_add_epi64(acc[0], acc[k]);
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
  std::uint64_t acc[8] = {};
  const std::size_t num_words = num_bytes / sizeof(std::uint64_t);
  for (std::size_t i = 0; i < num_words; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += data[i + k];
  }
  std::uint64_t total = 0;
  for (std::uint64_t a : acc) total += a;
  return total;
#endif
}

}  // namespace

ReadBandwidth measure_read_bandwidth(int num_threads, std::size_t total_bytes,
                                     int num_repetitions) {
  const std::size_t slice_bytes =
      total_bytes / num_threads / kBytesPerIteration * kBytesPerIteration;
  std::vector<std::uint64_t*> slices(num_threads, nullptr);
  std::vector<std::uint64_t> sums(num_threads, 0);

  auto first_touch = [&](int i) {
    if (slices[i] != nullptr) return;
    const std::size_t rounded = (slice_bytes + kAlignment - 1) / kAlignment * kAlignment;
    slices[i] = static_cast<std::uint64_t*>(std::aligned_alloc(kAlignment, rounded));
    ::madvise(slices[i], rounded, MADV_HUGEPAGE);  // best effort
    // Every word is 1, so each pass must sum to the word count: a check that the loads ran.
    const std::size_t num_words = slice_bytes / sizeof(std::uint64_t);
    for (std::size_t w = 0; w < num_words; ++w) slices[i][w] = 1;
  };
  auto read_slice = [&](int i) { sums[i] = sum_words(slices[i], slice_bytes); };

  std::vector<double> gbs;
  double min_cpu_share = 1;
  for (int rep = 0; rep < num_repetitions; ++rep) {
    const RunTiming timing = run_pinned(num_threads, first_touch, read_slice);
    // The first pass also allocates and fills, outside the timed part but not its share.
    if (rep > 0) min_cpu_share = std::min(min_cpu_share, timing.min_cpu_share);
    for (int i = 0; i < num_threads; ++i) {
      if (sums[i] != slice_bytes / sizeof(std::uint64_t)) {
        std::fprintf(stderr, "read bandwidth: thread %d summed %llu, expected %zu\n", i,
                     static_cast<unsigned long long>(sums[i]),
                     slice_bytes / sizeof(std::uint64_t));
      }
    }
    gbs.push_back(static_cast<double>(slice_bytes) * num_threads / timing.wall_seconds / 1e9);
  }
  for (std::uint64_t* slice : slices) std::free(slice);

  std::sort(gbs.begin(), gbs.end());
  ReadBandwidth result;
  result.best_gbs = gbs.back();
  result.median_gbs = gbs[gbs.size() / 2];
  result.min_cpu_share = min_cpu_share;
  return result;
}

}  // namespace microbench
