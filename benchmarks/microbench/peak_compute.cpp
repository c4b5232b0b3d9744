#include "peak_compute.h"

#include <immintrin.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pinned_threads.h"

namespace microbench {
namespace {

// Independent accumulators per thread: enough to cover latency x throughput of these
// instructions (at most 5 cycles x 2 per cycle on current x86 cores) with registers left.
// The chain loops are unrolled so that the accumulators stay in registers: GCC -O2 kept
// them in memory otherwise, and the store-to-load latency capped the fp32 figure at about
// a third of the real peak.
constexpr int kNumChains = 16;

struct Kernel {
  const char* instruction;
  double ops_per_instruction;
  // Runs num_iterations x kNumChains instructions and returns a value derived from every
  // chain, so that the compiler keeps them all.
  double (*loop)(std::int64_t num_iterations);
};

#if defined(__AVX512F__)
double fp32_fma_loop(std::int64_t num_iterations) {
  __m512 acc[kNumChains];
  for (int k = 0; k < kNumChains; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < num_iterations; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < kNumChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  for (int k = 1; k < kNumChains; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  return _mm512_reduce_add_ps(acc[0]);
}
constexpr Kernel kFp32Kernel = {"vfmadd231ps zmm (16 fp32 lanes)", 32, fp32_fma_loop};
#elif defined(__AVX2__) && defined(__FMA__)
double fp32_fma_loop(std::int64_t num_iterations) {
  __m256 acc[kNumChains];
  for (int k = 0; k < kNumChains; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k));
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < num_iterations; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < kNumChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  for (int k = 1; k < kNumChains; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  double total = 0;
  for (float lane : lanes) total += lane;
  return total;
}
constexpr Kernel kFp32Kernel = {"vfmadd231ps ymm (8 fp32 lanes)", 16, fp32_fma_loop};
#endif

#if defined(__AVX512BF16__)
double bf16_dot_loop(std::int64_t num_iterations) {
  __m512 acc[kNumChains];
  for (int k = 0; k < kNumChains; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  for (std::int64_t i = 0; i < num_iterations; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < kNumChains; ++k) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
  }
  for (int k = 1; k < kNumChains; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  return _mm512_reduce_add_ps(acc[0]);
}
#endif

#if defined(__AVX512VNNI__)
double int8_vnni_loop(std::int64_t num_iterations) {
  __m512i acc[kNumChains];
  for (int k = 0; k < kNumChains; ++k) acc[k] = _mm512_set1_epi32(k);
  const __m512i a = _mm512_set1_epi8(3);   // unsigned operand
  const __m512i b = _mm512_set1_epi8(-2);  // signed operand
  for (std::int64_t i = 0; i < num_iterations; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < kNumChains; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
  }
  for (int k = 1; k < kNumChains; ++k) acc[0] = _mm512_add_epi32(acc[0], acc[k]);
  return static_cast<double>(_mm512_reduce_add_epi32(acc[0]));
}
#endif

#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
// Linux grants the tile data per process, on request.
bool request_amx() {
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// Tiles 0-3 accumulate, 4-5 are 16 x 64-byte A operands, 6-7 are 16 x 64-byte B operands:
// four independent tdpbsud, each 16 x 16 x 64 products.
double int8_amx_loop(std::int64_t num_iterations) {
  struct alignas(64) {
    std::uint8_t palette_id = 1, start_row = 0, reserved[14] = {};
    std::uint16_t colsb[16] = {};
    std::uint8_t rows[16] = {};
  } config;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }

  // An asm operand naming the whole configuration: GCC 12's _tile_loadconfig names only
  // its first 8 bytes, and the compiler then drops the stores of the tile shapes.
  asm volatile("ldtilecfg %0" : : "m"(config));
  alignas(64) static const std::int8_t operand[16 * 64] = {1, 2, 3};
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64);
  _tile_loadd(7, operand, 64);

  // The tile intrinsics take the register number as a literal.
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);

  // num_iterations x kNumChains instructions in all, as in the other loops.
  for (std::int64_t i = 0; i < num_iterations * kNumChains / 4; ++i) {
    _tile_dpbsud(0, 4, 6);
    _tile_dpbsud(1, 4, 7);
    _tile_dpbsud(2, 5, 6);
    _tile_dpbsud(3, 5, 7);
  }

  alignas(64) std::int32_t sums[16 * 16];
  _tile_stored(0, sums, 64);
  _tile_release();
  return static_cast<double>(sums[0]);
}
#endif

std::optional<Kernel> kernel_for(ComputeType type) {
  switch (type) {
    case ComputeType::kFp32Fma:
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
      return kFp32Kernel;
#else
      return std::nullopt;
#endif
    case ComputeType::kBf16Dot:
#if defined(__AVX512BF16__)
      return Kernel{"vdpbf16ps zmm (16 fp32 lanes, 32 bf16 pairs)", 64, bf16_dot_loop};
#else
      return std::nullopt;
#endif
    case ComputeType::kInt8Vnni:
#if defined(__AVX512VNNI__)
      return Kernel{"vpdpbusd zmm (16 int32 lanes, 64 u8 x s8 products)", 128,
                    int8_vnni_loop};
#else
      return std::nullopt;
#endif
    case ComputeType::kInt8Amx:
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
      if (!request_amx()) return std::nullopt;
      return Kernel{"tdpbsud (16 x 16 int32 sums of 64 s8 x u8 products)", 16.0 * 16 * 64 * 2,
                    int8_amx_loop};
#else
      return std::nullopt;
#endif
  }
  return std::nullopt;
}

}  // namespace

std::string compute_type_name(ComputeType type) {
  switch (type) {
    case ComputeType::kFp32Fma:
      return "fp32_fma";
    case ComputeType::kBf16Dot:
      return "bf16_dot";
    case ComputeType::kInt8Vnni:
      return "int8_vnni";
    case ComputeType::kInt8Amx:
      return "int8_amx";
  }
  return "unknown";
}

std::optional<PeakCompute> measure_peak_compute(ComputeType type, int num_threads,
                                                int num_repetitions,
                                                double seconds_per_repetition) {
  const std::optional<Kernel> kernel = kernel_for(type);
  if (!kernel) return std::nullopt;

  std::vector<double> sinks(num_threads, 0);
  auto no_setup = [](int) {};
  auto time_iterations = [&](std::int64_t num_iterations) {
    return run_pinned(num_threads, no_setup,
                      [&](int i) { sinks[i] += kernel->loop(num_iterations); });
  };
  double min_cpu_share = 1;

  // Calibrate the loop count to the requested duration from a short run.
  std::int64_t num_iterations = 1 << 16;
  double seconds = time_iterations(num_iterations).wall_seconds;
  while (seconds < 0.02) {
    num_iterations *= 4;
    seconds = time_iterations(num_iterations).wall_seconds;
  }
  num_iterations = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(num_iterations * seconds_per_repetition / seconds));

  std::vector<double> gops;
  for (int rep = 0; rep < num_repetitions; ++rep) {
    const RunTiming timing = time_iterations(num_iterations);
    seconds = timing.wall_seconds;
    min_cpu_share = std::min(min_cpu_share, timing.min_cpu_share);
    const double ops = static_cast<double>(num_iterations) * kNumChains *
                       kernel->ops_per_instruction * num_threads;
    gops.push_back(ops / seconds / 1e9);
  }
  std::sort(gops.begin(), gops.end());

  PeakCompute result;
  result.instruction = kernel->instruction;
  result.best_gops = gops.back();
  result.median_gops = gops[gops.size() / 2];
  result.min_cpu_share = min_cpu_share;
  // The sinks are never read, but writing them through a volatile keeps the loops alive.
  volatile double sink = 0;
  for (double s : sinks) sink = sink + s;
  return result;
}

}  // namespace microbench
