// Gated activation of Llama-style MLPs: silu(gate) * up.
#pragma once

#include <span>

#include "kernels/ops.h"

namespace vllm {

class SiluAndMul {
 public:
  void forward(std::span<const float> gate,  // [num_tokens, intermediate_size]
               std::span<const float> up,    // [num_tokens, intermediate_size]
               std::span<float> out) const {  // [num_tokens, intermediate_size]
    ops::silu_and_mul(Device::kCpu, gate, up, out);
  }
};

}  // namespace vllm
