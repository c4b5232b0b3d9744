// Fuzz target for the safetensors header reader: the input is a whole safetensors file held
// in memory. Parsing may fail only with ModelLoadError; the tensors it accepts must lie
// inside the file, after the header, without overlap, and have a size that matches their
// dtype and shape.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "core/errors.h"
#include "fuzz/fuzz_support.h"
#include "model_loader/safetensors.h"

namespace {

[[noreturn]] void report(const vllm::SafetensorsTensorInfo& info, const char* problem) {
  std::fprintf(stderr, "tensor %s [%llu, %llu): %s\n", info.name.c_str(),
               static_cast<unsigned long long>(info.begin),
               static_cast<unsigned long long>(info.end), problem);
  std::abort();
}

// Independent check of the reader's contract. Element counts are multiplied with overflow
// checks, so a shape whose product overflows counts as a mismatch.
void check_tensors(const std::vector<vllm::SafetensorsTensorInfo>& tensors, const uint8_t* data,
                   size_t file_size) {
  if (tensors.empty()) return;
  if (file_size < 8) std::abort();  // tensors accepted from a file without a header length
  // The data section starts after the 8-byte little-endian header length and the header.
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | data[i];
  if (header_size > file_size - 8) std::abort();  // a header longer than the file accepted
  const uint64_t header_end = 8 + header_size;
  uint64_t previous_end = 0;
  for (const vllm::SafetensorsTensorInfo& info : tensors) {
    if (info.begin > info.end) report(info, "begin after end");
    if (info.end > file_size) report(info, "ends past the end of the file");
    if (info.begin < previous_end) report(info, "overlaps the previous tensor or is unsorted");
    if (info.begin < header_end) report(info, "starts inside the header");
    previous_end = info.end;

    const int64_t element_size = vllm::safetensors_dtype_size(info.dtype);
    if (element_size <= 0) report(info, "unknown dtype accepted");
    uint64_t num_elements = 1;
    for (const int64_t dim : info.shape) {
      if (dim < 0) report(info, "negative dimension accepted");
    }
    // A zero dimension makes the count zero even when the other dimensions overflow.
    const bool has_zero_dim = std::find(info.shape.begin(), info.shape.end(), 0) != info.shape.end();
    for (const int64_t dim : info.shape) {
      if (has_zero_dim) {
        num_elements = 0;
        break;
      }
      if (__builtin_mul_overflow(num_elements, static_cast<uint64_t>(dim), &num_elements)) {
        report(info, "element count overflows");
      }
    }
    uint64_t num_bytes = 0;
    if (__builtin_mul_overflow(num_elements, static_cast<uint64_t>(element_size), &num_bytes) ||
        num_bytes != info.end - info.begin) {
      report(info, "size does not match dtype and shape");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  std::vector<vllm::SafetensorsTensorInfo> tensors;
  try {
    tensors = vllm::parse_safetensors_header(std::span<const uint8_t>(data, size), "fuzz input");
  } catch (const vllm::ModelLoadError&) {
    return 0;
  }
  check_tensors(tensors, data, size);
  for (const vllm::SafetensorsTensorInfo& info : tensors) {
    (void)vllm::ggml_type_of_safetensors_dtype(info.dtype);
  }
  return 0;
}
