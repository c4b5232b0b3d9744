// CPU kernels of LayerNorm, the tanh approximation of GELU and tanh soft-capping, used by
// GPT-2 and Gemma. Like cpu_kernels.h, they trust the shapes kernels/ops.cpp has checked.
#pragma once

#include <cstdint>

namespace vllm::cpu {

// out[t] = (x[t] - mean) / sqrt(var + eps) * weight + bias, with the biased variance.
// `bias` may be null. `out` may alias `x`.
void layer_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
                const float* bias, double eps, float* out);

// out[i] = gelu_tanh(x[i]). `out` may alias `x`.
void gelu_tanh(const float* x, int64_t n, float* out);

// out[i] = gelu_tanh(gate[i]) * up[i]. `out` may alias `gate` or `up`.
void gelu_tanh_and_mul(const float* gate, const float* up, int64_t n, float* out);

// x[i] = cap * tanh(x[i] / cap), in place.
void tanh_soft_cap(float* x, int64_t n, float cap);

}  // namespace vllm::cpu
