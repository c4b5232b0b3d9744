// CPU implementations behind kernels/ops.h. They trust their arguments: the front-end in
// kernels/ops.cpp has validated every shape, index and slot before calling them.
#pragma once

#include <cstdint>
#include <span>

#include "core/ggml_type.h"
#include "kernels/ops.h"

namespace vllm::cpu {

// Instruction sets with a kernel path, in increasing order. Each path is deterministic on its
// own; the paths may differ from each other in the last bits of a float dot product.
// kAvx512Vnni is AVX-512F plus VNNI, VL and BW: the float kernels are those of kAvx512, the
// int8-activation kernels use vpdpbusd. kAvx512Amx adds AMX-INT8 tiles for the row-group
// products of 16 tokens at a time. Their integer sums are exact, so the outputs keep the
// bits of kAvx512Vnni.
enum class CpuIsa { kScalar, kAvx2, kAvx512, kAvx512Vnni, kAvx512Amx };

// The best path this CPU supports: AVX-512 with VNNI and AMX (where the kernel grants the
// process the tile state), AVX-512 with VNNI, AVX-512F, AVX2 with FMA and F16C, or scalar.
CpuIsa best_isa();
// best_isa(), unless set_isa chose another.
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

// Whether linear quantizes activations to int8 (per token, per 32-element block, like ggml's
// Q8_0) and multiplies them with the integer weights of Q4_0, Q4_1 and Q8_0 matrices. Read
// once from the environment variable VLLM_CPU_ACTIVATION_QUANT (0 or 1, default 0).
bool activation_quant_enabled();
void set_activation_quant(bool enabled);

// True where linear_int8 has a kernel for `type`.
bool linear_int8_supported(GGMLType type);

// linear() on int8-quantized activations; `weight.type` must pass linear_int8_supported.
// Results are bit-identical for a token whatever the batch and thread count, and identical
// across the AVX-512 VNNI, AVX2 and scalar paths.
void linear_int8(const float* x, int64_t num_tokens, const WeightMatrix& weight,
                 const float* bias, float* y);

// Row groups (kernels/cpu/linear_row_groups.cpp): the layout of 16 interleaved rows that the
// AVX-512 VNNI path multiplies with three int8 slices of the activations.
bool row_groups_supported(GGMLType type);
// Whether this machine runs `weight` (row layout) faster in row groups.
bool prefers_row_groups(const WeightMatrix& weight);
// Writes `weight` (row layout, rows a multiple of 16) in row groups to `dst`, which may be
// weight.data: each group's bytes are copied before they are overwritten.
void pack_row_groups(const WeightMatrix& weight, uint8_t* dst);
// Dequantizes row `row` of a row-group matrix into out[0, cols): the values of the row layout.
void dequantize_grouped_row(const WeightMatrix& weight, int64_t row, float* out);
// linear() on a row-group matrix.
void linear_row_groups(const float* x, int64_t num_tokens, const WeightMatrix& weight,
                       const float* bias, float* y);
// One product y = x weight^T (+ bias) of linear_row_groups_shared; bias may be null.
struct GroupedProduct {
  const WeightMatrix* weight;  // [rows, cols] in row groups
  const float* bias;           // [rows] or null
  float* y;                    // [num_tokens, rows]
};
// Runs linear_row_groups for products of one input x ([num_tokens, cols]): x is sliced once
// and all the products' groups are split over the threads together. Each y gets the same
// bits as from linear_row_groups.
void linear_row_groups_shared(const float* x, int64_t num_tokens,
                              std::span<const GroupedProduct> products);
// linear_row_groups without bias for callers that need only each token's largest outputs
// (greedy sampling): every output that may equal its token's maximum gets the bits of
// linear_row_groups, any other that value or -inf. Q8_0 on AVX-512 VNNI bounds a two-slice
// pass and recomputes only the groups that may hold the maximum; other matrices run
// linear_row_groups.
void linear_row_groups_max(const float* x, int64_t num_tokens, const WeightMatrix& weight,
                           float* y);

void rms_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
              double eps, float* out);

// In kernels/cpu/rotary.cpp.
void rotary_embedding(const float* cos_sin, int64_t num_tokens, float* query, float* key,
                      int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                      RotaryStyle style, int64_t rotary_dim);

void silu_and_mul(const float* gate, const float* up, int64_t n, float* out);

void write_kv(const float* key, const float* value, const int64_t* slot_mapping,
              int64_t num_tokens, const PagedKVCacheView& cache);

void paged_attention(const float* query, int64_t num_tokens, int64_t num_heads,
                     const PagedKVCacheView& cache, const AttentionMetadata& metadata,
                     const AttentionOptions& options, float* out);

}  // namespace vllm::cpu
