// MLP activations: silu(gate) * up of Llama-style MLPs, gelu_tanh(gate) * up of Gemma and
// the ungated gelu_tanh of GPT-2.
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

// gelu_tanh(gate) * up; transformers' "gelu_pytorch_tanh" hidden activation of Gemma.
class GeluTanhAndMul {
 public:
  void forward(std::span<const float> gate,  // [num_tokens, intermediate_size]
               std::span<const float> up,    // [num_tokens, intermediate_size]
               std::span<float> out) const {  // [num_tokens, intermediate_size]
    ops::gelu_tanh_and_mul(Device::kCpu, gate, up, out);
  }
};

// gelu_tanh(x); transformers' "gelu_new" activation of GPT-2.
class GeluTanh {
 public:
  void forward(std::span<const float> x,      // [num_tokens, intermediate_size]
               std::span<float> out) const {  // [num_tokens, intermediate_size], may alias x
    ops::gelu_tanh(Device::kCpu, x, out);
  }
};

}  // namespace vllm
