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
    case GGMLType::Q8_1: return GGMLTypeTraits{"Q8_1", 32, 36, false};
    case GGMLType::Q2_K: return GGMLTypeTraits{"Q2_K", 256, 84, false};
    case GGMLType::Q3_K: return GGMLTypeTraits{"Q3_K", 256, 110, false};
    case GGMLType::Q4_K: return GGMLTypeTraits{"Q4_K", 256, 144, false};
    case GGMLType::Q5_K: return GGMLTypeTraits{"Q5_K", 256, 176, false};
    case GGMLType::Q6_K: return GGMLTypeTraits{"Q6_K", 256, 210, false};
    case GGMLType::Q8_K: return GGMLTypeTraits{"Q8_K", 256, 292, false};
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
