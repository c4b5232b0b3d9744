// Tensor element types as GGUF numbers them (ggml's type ids), with the block geometry of
// each quantized format. The numeric ids are fixed by the GGUF file format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vllm {

enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

struct GGMLTypeTraits {
  std::string_view name;    // "Q4_1", as gguf-py prints it
  int64_t block_size;       // elements per block (1 for plain types)
  int64_t type_size;        // bytes per block
  bool supported;           // computable by this build; files with other types are rejected
};

// Returns the traits of a known type id, or nullopt for an id this build does not know.
std::optional<GGMLTypeTraits> ggml_type_traits(uint32_t type_id);

// Bytes taken by one row of `num_elements` elements; num_elements must be a multiple of the
// block size (checked by the caller).
inline int64_t ggml_row_bytes(const GGMLTypeTraits& traits, int64_t num_elements) {
  return num_elements / traits.block_size * traits.type_size;
}

std::string_view ggml_type_name(GGMLType type);

}  // namespace vllm
