// Per-token float32 ops: RMS norm, rotary embedding, SiLU-and-multiply. Each output depends
// only on its own token's inputs, computed in a fixed order.
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"

namespace vllm::cpu {

void rms_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
              double eps, float* out) {
  parallel_for(num_tokens, [&](int64_t first_token, int64_t end_token) {
    for (int64_t t = first_token; t < end_token; ++t) {
      const float* row = x + t * hidden_size;
      double sum_squares = 0.0;  // sequential in k: the order is fixed by the data
      for (int64_t k = 0; k < hidden_size; ++k) sum_squares += static_cast<double>(row[k]) * row[k];
      const float variance = static_cast<float>(sum_squares / static_cast<double>(hidden_size));
      const float inv_rms = 1.0f / std::sqrt(variance + static_cast<float>(eps));
      float* dst = out + t * hidden_size;
      for (int64_t k = 0; k < hidden_size; ++k) dst[k] = weight[k] * (row[k] * inv_rms);
    }
  });
}

namespace {

void rotate_heads(const float* cos_sin, float* heads, int64_t num_heads, int64_t head_dim) {
  for (int64_t h = 0; h < num_heads; ++h) {
    float* v = heads + h * head_dim;
    for (int64_t i = 0; i < head_dim / 2; ++i) {
      const float c = cos_sin[2 * i];
      const float s = cos_sin[2 * i + 1];
      const float x0 = v[2 * i];
      const float x1 = v[2 * i + 1];
      v[2 * i] = x0 * c - x1 * s;
      v[2 * i + 1] = x0 * s + x1 * c;
    }
  }
}

}  // namespace

void rotary_embedding(const float* cos_sin, int64_t num_tokens, float* query, float* key,
                      int64_t num_heads, int64_t num_kv_heads, int64_t head_dim) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* cs = cos_sin + t * head_dim;  // head_dim / 2 pairs of (cos, sin)
    rotate_heads(cs, query + t * num_heads * head_dim, num_heads, head_dim);
    rotate_heads(cs, key + t * num_kv_heads * head_dim, num_kv_heads, head_dim);
  }
}

void silu_and_mul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace vllm::cpu
