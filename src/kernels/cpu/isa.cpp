#include <cpuid.h>

#include <atomic>

#include "kernels/cpu/cpu_kernels.h"

namespace vllm::cpu {
namespace {

// F16C is read from CPUID leaf 1 (ECX bit 29) because clang 14's __builtin_cpu_supports
// does not accept "f16c".
bool cpu_has_f16c() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

CpuIsa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    const bool vnni = __builtin_cpu_supports("avx512vnni") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    return vnni ? CpuIsa::kAvx512Vnni : CpuIsa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c()) {
    return CpuIsa::kAvx2;
  }
  return CpuIsa::kScalar;
}

const CpuIsa kBestIsa = detect_isa();
std::atomic<CpuIsa> g_isa{kBestIsa};

}  // namespace

CpuIsa best_isa() { return kBestIsa; }

CpuIsa active_isa() { return g_isa.load(std::memory_order_relaxed); }

void set_isa(CpuIsa isa) {
  g_isa.store(isa > kBestIsa ? kBestIsa : isa, std::memory_order_relaxed);
}

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
    case CpuIsa::kAvx512Vnni: return "avx512-vnni";
  }
  return "unknown";
}

}  // namespace vllm::cpu
