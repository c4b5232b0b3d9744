// Per-token float32 ops: RMS norm. Each output depends
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

}  // namespace vllm::cpu
