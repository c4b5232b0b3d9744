// Peak arithmetic throughput of the vector units, per compute type the kernels can use.
#pragma once

#include <optional>
#include <string>

namespace microbench {

enum class ComputeType {
  kFp32Fma,   // vfmadd231ps: 2 flops per fp32 lane
  kBf16Dot,   // vdpbf16ps: 2 bf16 products summed into each fp32 lane, 4 flops per lane
  kInt8Vnni,  // vpdpbusd: 4 u8 x s8 products summed into each int32 lane, 8 ops per lane
  kInt8Amx,   // tdpbsud on full tiles: 16 x 16 int32 sums of 64 s8 x u8 products each
};

std::string compute_type_name(ComputeType type);

struct PeakCompute {
  std::string instruction;  // the instruction timed, with its vector width
  double best_gops = 0;     // best repetition, 1e9 flops (or int ops) per second
  double median_gops = 0;   // median repetition
  double min_cpu_share = 1;  // see RunTiming; below about 0.95 the machine was busy
};

// Measures the throughput of independent chains of one instruction on num_threads pinned
// threads, each repetition running about seconds_per_repetition. Returns nullopt when
// this CPU or this build lacks the instruction.
std::optional<PeakCompute> measure_peak_compute(ComputeType type, int num_threads,
                                                int num_repetitions,
                                                double seconds_per_repetition);

}  // namespace microbench
