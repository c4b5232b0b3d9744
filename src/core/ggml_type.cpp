#include "core/ggml_type.h"

namespace vllm {

std::optional<GGMLTypeTraits> ggml_type_traits(uint32_t type_id) {
  switch (static_cast<GGMLType>(type_id)) {
    case GGMLType::F32: return GGMLTypeTraits{"F32", 1, 4, true};
    case GGMLType::F16: return GGMLTypeTraits{"F16", 1, 2, true};
    case GGMLType::BF16: return GGMLTypeTraits{"BF16", 1, 2, true};
    // Q4_0: fp16 scale + 16 bytes of 4-bit values.
    case GGMLType::Q4_0: return GGMLTypeTraits{"Q4_0", 32, 18, true};
    // Q4_1: fp16 scale + fp16 min + 16 bytes of 4-bit values.
    case GGMLType::Q4_1: return GGMLTypeTraits{"Q4_1", 32, 20, true};
    // Q5_0: fp16 scale + 4 bytes of high bits + 16 bytes of low nibbles.
    case GGMLType::Q5_0: return GGMLTypeTraits{"Q5_0", 32, 22, true};
    // Q5_1: fp16 scale + fp16 min + 4 bytes of high bits + 16 bytes of low nibbles.
    case GGMLType::Q5_1: return GGMLTypeTraits{"Q5_1", 32, 24, true};
    // Q8_0: fp16 scale + 32 int8 values.
    case GGMLType::Q8_0: return GGMLTypeTraits{"Q8_0", 32, 34, true};
    // Q8_1: fp16 scale + fp16 sum + 32 int8 values, 36 bytes as ggml's block_q8_1 asserts
    // (gguf-py 0.19.0 lists 40, a leftover from when both were fp32).
    case GGMLType::Q8_1: return GGMLTypeTraits{"Q8_1", 32, 36, false};
    case GGMLType::Q2_K: return GGMLTypeTraits{"Q2_K", 256, 84, false};
    case GGMLType::Q3_K: return GGMLTypeTraits{"Q3_K", 256, 110, false};
    // Q4_K: fp16 d, fp16 dmin + 12 bytes of 6-bit scales and mins + 128 bytes of nibbles.
    case GGMLType::Q4_K: return GGMLTypeTraits{"Q4_K", 256, 144, true};
    // Q5_K: Q4_K's fields + 32 bytes of high bits.
    case GGMLType::Q5_K: return GGMLTypeTraits{"Q5_K", 256, 176, true};
    // Q6_K: 128 bytes of low nibbles + 64 bytes of 2-bit highs + 16 int8 scales + fp16 d.
    case GGMLType::Q6_K: return GGMLTypeTraits{"Q6_K", 256, 210, true};
    // Q8_K: fp32 d + 256 int8 values + 16 int16 sums of 16 values.
    case GGMLType::Q8_K: return GGMLTypeTraits{"Q8_K", 256, 292, true};
    // Block geometry of the types below as gguf-py 0.19.0 lists it (GGML_QUANT_SIZES). They
    // are known only so that messages can name them.
    case GGMLType::IQ2_XXS: return GGMLTypeTraits{"IQ2_XXS", 256, 66, false};
    case GGMLType::IQ2_XS: return GGMLTypeTraits{"IQ2_XS", 256, 74, false};
    case GGMLType::IQ3_XXS: return GGMLTypeTraits{"IQ3_XXS", 256, 98, false};
    case GGMLType::IQ1_S: return GGMLTypeTraits{"IQ1_S", 256, 50, false};
    case GGMLType::IQ4_NL: return GGMLTypeTraits{"IQ4_NL", 32, 18, false};
    case GGMLType::IQ3_S: return GGMLTypeTraits{"IQ3_S", 256, 110, false};
    case GGMLType::IQ2_S: return GGMLTypeTraits{"IQ2_S", 256, 82, false};
    case GGMLType::IQ4_XS: return GGMLTypeTraits{"IQ4_XS", 256, 136, false};
    case GGMLType::IQ1_M: return GGMLTypeTraits{"IQ1_M", 256, 56, false};
    case GGMLType::TQ1_0: return GGMLTypeTraits{"TQ1_0", 256, 54, false};
    case GGMLType::TQ2_0: return GGMLTypeTraits{"TQ2_0", 256, 66, false};
    case GGMLType::MXFP4: return GGMLTypeTraits{"MXFP4", 32, 17, false};
    case GGMLType::NVFP4: return GGMLTypeTraits{"NVFP4", 64, 36, false};
    case GGMLType::Q1_0: return GGMLTypeTraits{"Q1_0", 128, 18, false};
    case GGMLType::I8: return GGMLTypeTraits{"I8", 1, 1, false};
    case GGMLType::I16: return GGMLTypeTraits{"I16", 1, 2, false};
    case GGMLType::I32: return GGMLTypeTraits{"I32", 1, 4, false};
    case GGMLType::I64: return GGMLTypeTraits{"I64", 1, 8, false};
    case GGMLType::F64: return GGMLTypeTraits{"F64", 1, 8, false};
  }
  return std::nullopt;
}

std::string_view ggml_type_name(GGMLType type) {
  auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  return traits ? traits->name : std::string_view("unknown");
}

}  // namespace vllm
