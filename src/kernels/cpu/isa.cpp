#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

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

// AMX needs three things: AMX-TILE and AMX-INT8 (CPUID leaf 7, EDX bits 24 and 25), the
// tile state enabled by the OS in XCR0 (bits 17 and 18), and Linux's permission for the
// tile data. The permission is per process and must be requested before any tile
// instruction runs.
bool amx_usable() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  if ((edx & (1u << 24)) == 0 || (edx & (1u << 25)) == 0) return false;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & bit_OSXSAVE) == 0) return false;
  unsigned int xcr0_low = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  if ((xcr0_low & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuIsa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    const bool vnni = __builtin_cpu_supports("avx512vnni") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    if (!vnni) return CpuIsa::kAvx512;
    return amx_usable() ? CpuIsa::kAvx512Amx : CpuIsa::kAvx512Vnni;
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
    case CpuIsa::kAvx512Amx: return "avx512-amx";
  }
  return "unknown";
}

}  // namespace vllm::cpu
