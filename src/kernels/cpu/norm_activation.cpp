// LayerNorm, GELU (tanh approximation) and tanh soft-capping on the CPU. Every output
// element depends only on its own token's inputs, computed in a fixed order.
#include "kernels/cpu/norm_activation.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"

namespace vllm::cpu {
namespace {

// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), the formula of
// transformers' NewGELUActivation ("gelu_new") and of torch.nn.functional.gelu with
// approximate="tanh" ("gelu_pytorch_tanh").
inline float gelu_tanh_scalar(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kCoefficient = 0.044715f;
  const float inner = kSqrt2OverPi * (x + kCoefficient * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(inner));
}

// Elements per parallel_for range: small arrays stay on the calling thread.
constexpr int64_t kElementsPerRange = 16384;

template <typename Fn>
void parallel_elements(int64_t n, Fn&& fn) {
  const int64_t num_ranges = (n + kElementsPerRange - 1) / kElementsPerRange;
  parallel_for(num_ranges, [&](int64_t first_range, int64_t end_range) {
    const int64_t begin = first_range * kElementsPerRange;
    const int64_t end = std::min(n, end_range * kElementsPerRange);
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

}  // namespace

void layer_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
                const float* bias, double eps, float* out) {
  parallel_for(num_tokens, [&](int64_t first_token, int64_t end_token) {
    for (int64_t t = first_token; t < end_token; ++t) {
      const float* row = x + t * hidden_size;
      // Two passes in double, sequential in k, so the order is fixed by the data.
      double sum = 0.0;
      for (int64_t k = 0; k < hidden_size; ++k) sum += row[k];
      const double mean = sum / static_cast<double>(hidden_size);
      double sum_squares = 0.0;
      for (int64_t k = 0; k < hidden_size; ++k) {
        const double centered = row[k] - mean;
        sum_squares += centered * centered;
      }
      const double variance = sum_squares / static_cast<double>(hidden_size);
      const float inv_std = static_cast<float>(1.0 / std::sqrt(variance + eps));
      const float mean_f = static_cast<float>(mean);
      float* dst = out + t * hidden_size;
      for (int64_t k = 0; k < hidden_size; ++k) {
        const float normed = (row[k] - mean_f) * inv_std;
        dst[k] = bias != nullptr ? normed * weight[k] + bias[k] : normed * weight[k];
      }
    }
  });
}

void gelu_tanh(const float* x, int64_t n, float* out) {
  parallel_elements(n, [&](int64_t i) { out[i] = gelu_tanh_scalar(x[i]); });
}

void gelu_tanh_and_mul(const float* gate, const float* up, int64_t n, float* out) {
  parallel_elements(n, [&](int64_t i) { out[i] = gelu_tanh_scalar(gate[i]) * up[i]; });
}

void tanh_soft_cap(float* x, int64_t n, float cap) {
  parallel_elements(n, [&](int64_t i) { x[i] = cap * std::tanh(x[i] / cap); });
}

}  // namespace vllm::cpu
