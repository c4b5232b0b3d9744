// CPU implementations behind kernels/ops.h. They trust their arguments: the front-end in
// kernels/ops.cpp has validated every shape, index and slot before calling them.
#pragma once

#include <cstdint>

#include "core/ggml_type.h"
#include "kernels/ops.h"

namespace vllm::cpu {

// Instruction sets with a kernel path. Each path is deterministic on its own; the paths may
// differ from each other in the last bits of a dot product.
enum class CpuIsa { kScalar, kAvx2, kAvx512 };

// The best path this CPU supports (AVX-512F; else AVX2 with FMA and F16C; else scalar),
// unless set_isa chose another.
CpuIsa active_isa();
// Selects a path, for tests; a path the CPU lacks is lowered to the best supported one.
void set_isa(CpuIsa isa);
const char* isa_name(CpuIsa isa);

// Dequantizes `num_elements` consecutive elements (a multiple of the type's block size)
// starting at the block at `src`.
void dequantize_row(GGMLType type, const uint8_t* src, float* dst, int64_t num_elements);

// y[t, j] = sum_k x[t, k] * w[j, k] for mt <= 4 tokens and nr <= 4 rows, accumulated in the
// active path's fixed lane order. Rows are `stride` floats apart in x, w and y.
void dot_tile(int mt, int nr, const float* x, int64_t x_stride, const float* w,
              int64_t w_stride, int64_t cols, float* y, int64_t y_stride);

void linear(const float* x, int64_t num_tokens, const WeightMatrix& weight, const float* bias,
            float* y);

void rms_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
              double eps, float* out);

void rotary_embedding(const float* cos_sin, int64_t num_tokens, float* query, float* key,
                      int64_t num_heads, int64_t num_kv_heads, int64_t head_dim);

void silu_and_mul(const float* gate, const float* up, int64_t n, float* out);

void write_kv(const float* key, const float* value, const int64_t* slot_mapping,
              int64_t num_tokens, const PagedKVCacheView& cache);

void paged_attention(const float* query, int64_t num_tokens, int64_t num_heads,
                     const PagedKVCacheView& cache, const AttentionMetadata& metadata,
                     float scale, float* out);

}  // namespace vllm::cpu
