#include <atomic>

#include "kernels/cpu/cpu_kernels.h"

namespace vllm::cpu {
namespace {

CpuIsa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return CpuIsa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    return CpuIsa::kAvx2;
  }
  return CpuIsa::kScalar;
}

const CpuIsa kBestIsa = detect_isa();
std::atomic<CpuIsa> g_isa{kBestIsa};

}  // namespace

CpuIsa active_isa() { return g_isa.load(std::memory_order_relaxed); }

void set_isa(CpuIsa isa) {
  g_isa.store(isa > kBestIsa ? kBestIsa : isa, std::memory_order_relaxed);
}

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "unknown";
}

}  // namespace vllm::cpu
