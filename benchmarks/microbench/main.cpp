// Prints the hardware limits of this machine's cores as one JSON object:
// streaming-read bandwidth and peak throughput of fp32 FMA, bf16 dot, int8 VNNI and int8
// AMX tiles.
//
// Usage: hardware_limits [--threads N] [--read-mib MIB] [--repetitions N] [--seconds S]
//   --threads      pinned threads, one per CPU (default: the CPUs this process may use)
//   --read-mib     bytes read per bandwidth pass, in MiB (default 1024)
//   --repetitions  passes per measurement; best and median are reported (default 7)
//   --seconds      duration of one compute repetition (default 0.3)
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "peak_compute.h"
#include "read_bandwidth.h"

namespace {

int allowed_cpu_count() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return 1;
  return CPU_COUNT(&allowed);
}

[[noreturn]] void usage_error(const char* message, const char* value) {
  std::fprintf(stderr,
               "hardware_limits: %s: '%s'\n"
               "usage: hardware_limits [--threads N] [--read-mib MIB] [--repetitions N] "
               "[--seconds S]\n",
               message, value);
  std::exit(2);
}

double parse_positive(const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0)) usage_error("expected a positive number", text);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  int num_threads = allowed_cpu_count();
  double read_mib = 1024;
  int num_repetitions = 7;
  double seconds = 0.3;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage_error("missing value for option", argv[i]);
    const char* value = argv[++i];
    if (arg == "--threads") {
      num_threads = static_cast<int>(parse_positive(value));
    } else if (arg == "--read-mib") {
      read_mib = parse_positive(value);
    } else if (arg == "--repetitions") {
      num_repetitions = static_cast<int>(parse_positive(value));
    } else if (arg == "--seconds") {
      seconds = parse_positive(value);
    } else {
      usage_error("unknown option", arg.c_str());
    }
  }

  const auto bandwidth = microbench::measure_read_bandwidth(
      num_threads, static_cast<std::size_t>(read_mib * 1024 * 1024), num_repetitions);
  std::printf("{\n  \"threads\": %d,\n", num_threads);
  std::printf("  \"read_bytes_per_pass\": %.0f,\n", read_mib * 1024 * 1024);
  std::printf("  \"read_bandwidth_gbs\": {\"best\": %.3f, \"median\": %.3f, "
              "\"min_cpu_share\": %.3f}",
              bandwidth.best_gbs, bandwidth.median_gbs, bandwidth.min_cpu_share);

  for (auto type : {microbench::ComputeType::kFp32Fma, microbench::ComputeType::kBf16Dot,
                    microbench::ComputeType::kInt8Vnni, microbench::ComputeType::kInt8Amx}) {
    const auto peak = microbench::measure_peak_compute(type, num_threads, num_repetitions, seconds);
    const std::string name = microbench::compute_type_name(type);
    if (!peak) {
      std::printf(",\n  \"%s_gops\": null", name.c_str());
      continue;
    }
    std::printf(",\n  \"%s_gops\": {\"best\": %.2f, \"median\": %.2f, \"min_cpu_share\": %.3f, "
                "\"instruction\": \"%s\"}",
                name.c_str(), peak->best_gops, peak->median_gops, peak->min_cpu_share,
                peak->instruction.c_str());
  }
  std::printf("\n}\n");
  return 0;
}
