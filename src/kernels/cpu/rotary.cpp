// Rotary position embedding on the CPU, in both pair layouts (see ops::rotary_embedding).
#include "kernels/cpu/cpu_kernels.h"

namespace vllm::cpu {
namespace {

// Rotates the first rotary_dim dimensions of each of `num_heads` heads by the rotary_dim / 2
// (cos, sin) pairs of `cos_sin`.
void rotate_heads(const float* cos_sin, float* heads, int64_t num_heads, int64_t head_dim,
                  RotaryStyle style, int64_t rotary_dim) {
  const int64_t num_pairs = rotary_dim / 2;
  // Offset of the first and second dimension of pair i: (2i, 2i + 1) or (i, i + num_pairs).
  const int64_t first_stride = style == RotaryStyle::kAdjacentPairs ? 2 : 1;
  const int64_t second_offset = style == RotaryStyle::kAdjacentPairs ? 1 : num_pairs;
  for (int64_t h = 0; h < num_heads; ++h) {
    float* v = heads + h * head_dim;
    for (int64_t i = 0; i < num_pairs; ++i) {
      const float c = cos_sin[2 * i];
      const float s = cos_sin[2 * i + 1];
      float& x0 = v[i * first_stride];
      float& x1 = v[i * first_stride + second_offset];
      const float a = x0;
      const float b = x1;
      x0 = a * c - b * s;
      x1 = a * s + b * c;
    }
  }
}

}  // namespace

void rotary_embedding(const float* cos_sin, int64_t num_tokens, float* query, float* key,
                      int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                      RotaryStyle style, int64_t rotary_dim) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* cs = cos_sin + t * rotary_dim;  // rotary_dim / 2 pairs of (cos, sin)
    rotate_heads(cs, query + t * num_heads * head_dim, num_heads, head_dim, style, rotary_dim);
    rotate_heads(cs, key + t * num_kv_heads * head_dim, num_kv_heads, head_dim, style,
                 rotary_dim);
  }
}

}  // namespace vllm::cpu
