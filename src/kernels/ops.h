// Device-neutral op interface. Each op validates its arguments' shapes, then dispatches to
// the implementation for `device` (kernels/cpu/ today). A build without a device's kernels
// throws InvalidArgument "unsupported device" for it. Model code includes only this header.
//
// All activations, norms, rope, softmax and the KV cache are float32. Weights keep their
// file format (F32, F16, BF16 or a ggml block format), in the file's row order or in row
// groups (WeightLayout). The ops dequantize them one block at a time, or multiply row groups
// with int8 slices of the activations. Every output element is computed by one thread in an
// order fixed by the data, so results never depend on the batch around a token or on the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/ggml_type.h"

namespace vllm {

enum class Device { kCpu, kCuda };

std::string_view device_name(Device device);

// Sets the number of threads the CPU kernels use (at least 1; default: the cores this process
// may run on). Restarts the kernels' thread pool. Results do not depend on it.
void set_num_threads(int num_threads);
int num_threads();

// Order of a weight matrix's blocks in memory.
enum class WeightLayout {
  kRows,         // row by row, as in GGUF and safetensors files
  kRowGroups16,  // groups of 16 rows, block-interleaved for the int8 dot-product kernels
                 // (see kernels/cpu/linear_row_groups.cpp); same size as kRows
};

// A weight matrix of `rows` output features by `cols` input features, in a ggml element type.
// Each row is cols / block_size blocks. Does not own `data`.
struct WeightMatrix {
  GGMLType type = GGMLType::F32;
  int64_t rows = 0;
  int64_t cols = 0;  // a multiple of the type's block size
  const uint8_t* data = nullptr;  // [rows, row_bytes()] in `layout`
  Device device = Device::kCpu;
  WeightLayout layout = WeightLayout::kRows;

  int64_t row_bytes() const;
};

// A layer's paged KV cache: key and value each [num_blocks, num_kv_heads, block_size,
// head_dim], so that one head's rows of a block are contiguous for the attention kernel.
// Slot s is token (s % block_size) of block (s / block_size).
struct PagedKVCacheView {
  float* key_cache = nullptr;
  float* value_cache = nullptr;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  Device device = Device::kCpu;
};

// Pairing of the dimensions that rope rotates together within a head.
enum class RotaryStyle {
  // (x[2i], x[2i + 1]): ggml's "normal" rope, the Q/K weight layout of llama GGUF files.
  kAdjacentPairs,
  // (x[i], x[i + rotary_dim / 2]): HF's rotate_half, ggml's "NEOX" rope (Qwen2, Qwen3,
  // Phi3 and Gemma, in both formats).
  kRotateHalf,
};

// Options of one attention layer, passed to every paged_attention call.
struct AttentionOptions {
  float scale = 1.0f;  // multiplies q.k before the soft cap and softmax
  // 0: full context. Otherwise a query at position p attends only to keys at positions
  // > p - sliding_window (the last sliding_window positions, itself included), as
  // transformers masks sliding-window layers.
  int32_t sliding_window = 0;
  // 0: none. Otherwise scores become cap * tanh(scores / cap) after scaling (Gemma 2).
  float logits_soft_cap = 0.0f;
};

// Batch layout for attention: each sequence's new tokens in the flattened batch and its
// context blocks.
struct AttentionMetadata {
  std::span<const int32_t> query_start_loc;  // [num_seqs + 1]
  std::span<const int32_t> seq_lens;         // [num_seqs], context length including new tokens
  std::span<const int32_t> block_tables;     // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
};

namespace ops {

// Whether `weight` (in the row layout) runs faster on this machine in the 16-row groups
// layout: Q4_0, Q4_1, Q5_0, Q8_0 and Q4_K matrices of a multiple of 16 rows on an AVX-512 VNNI
// CPU. Those products then use int8 dot products on three slices of the activations, which
// agree with float32 to about 2^-22 of each 32-element block's largest activation.
bool prefers_row_groups(const WeightMatrix& weight);
// Writes `weight` (row layout) to `dst` in the row-group layout; `dst` may be weight.data.
// Any CPU can pack and run row groups (AVX-512 VNNI or a scalar path of the same results).
// Throws InvalidArgument unless the matrix is Q4_0, Q4_1, Q5_0, Q8_0 or Q4_K of a multiple of 16
// rows, in the row layout.
void pack_row_groups(const WeightMatrix& weight, uint8_t* dst);

// Dequantizes rows [first_row, first_row + num_rows) of `weight` to float32.
void dequantize_rows(const WeightMatrix& weight, int64_t first_row, int64_t num_rows,
                     std::span<float> out);  // [num_rows, weight.cols]

// Gathers embedding rows: out[t] = table[token_ids[t]] dequantized. Throws InvalidArgument
// for a token id outside [0, table.rows).
void embedding(const WeightMatrix& table,           // [vocab_size, hidden_size]
               std::span<const int32_t> token_ids,  // [num_tokens]
               std::span<float> out);               // [num_tokens, hidden_size]

// y[t, j] = sum_k x[t, k] * weight[j, k] (+ bias[j]). `bias` may be empty.
void linear(std::span<const float> x,  // [num_tokens, weight.cols]
            int64_t num_tokens, const WeightMatrix& weight,
            std::span<const float> bias,  // [weight.rows] or empty
            std::span<float> y);          // [num_tokens, weight.rows]

// linear() without bias for callers that need only each token's largest outputs, such as
// greedy sampling: every output that may equal its token's maximum gets its linear() value
// (the same bits), any other that value or -inf. On the CPU, Q8_0 matrices in row groups skip
// a third of the integer products (see kernels/cpu/linear_row_groups.cpp).
void linear_max(std::span<const float> x,  // [num_tokens, weight.cols]
                int64_t num_tokens, const WeightMatrix& weight,
                std::span<float> y);  // [num_tokens, weight.rows]

// One product of linear_shared_input: y = x weight^T (+ bias).
struct LinearProduct {
  const WeightMatrix* weight;
  std::span<const float> bias;  // [weight->rows] or empty
  std::span<float> y;           // [num_tokens, weight->rows]
};

// Runs linear() for each product on the same x ([num_tokens, cols]), with the same results.
// On the CPU, the products of matrices in row groups share one int8 slicing of x and one
// pass of the threads, as q, k and v or gate and up do.
void linear_shared_input(std::span<const float> x, int64_t num_tokens,
                         std::span<const LinearProduct> products);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight. `out` may alias `x`.
void rms_norm(Device device, std::span<const float> x,  // [num_tokens, hidden_size]
              std::span<const float> weight,            // [hidden_size]
              double eps, std::span<float> out);        // [num_tokens, hidden_size]

// x += y, element by element.
void add_inplace(Device device, std::span<float> x,  // [n]
                 std::span<const float> y);          // [n]

// Rotates pair i of the first `rotary_dim` dimensions of every head by the angle whose
// cosine and sine are cos_sin[t, i, 0] and cos_sin[t, i, 1], in place. Dimensions from
// rotary_dim to head_dim (partial rotary) are left unchanged. rotary_dim 0 means head_dim.
void rotary_embedding(Device device,
                      std::span<const float> cos_sin,  // [num_tokens, rotary_dim / 2, 2]
                      std::span<float> query,          // [num_tokens, num_heads, head_dim]
                      std::span<float> key,            // [num_tokens, num_kv_heads, head_dim]
                      int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                      RotaryStyle style = RotaryStyle::kAdjacentPairs, int64_t rotary_dim = 0);

// out = silu(gate) * up, silu(x) = x / (1 + exp(-x)).
void silu_and_mul(Device device, std::span<const float> gate,  // [num_tokens, intermediate]
                  std::span<const float> up,                   // [num_tokens, intermediate]
                  std::span<float> out);                       // [num_tokens, intermediate]

// Stores token t's key and value at slot_mapping[t]; a negative slot (padding) is skipped.
void write_kv(std::span<const float> key,              // [num_tokens, num_kv_heads, head_dim]
              std::span<const float> value,            // [num_tokens, num_kv_heads, head_dim]
              std::span<const int64_t> slot_mapping,   // [num_tokens]
              const PagedKVCacheView& cache);

// Causal attention over the paged cache. New token i of sequence s (query_len new tokens,
// seq_len context tokens) is at context position p = seq_len - query_len + i and attends to
// positions [0, p], or [p - sliding_window + 1, p] with a sliding window, read through the
// sequence's block table. Query head h uses KV head h / (num_heads / num_kv_heads). Scores
// are scaled by options.scale, then soft-capped when options.logits_soft_cap is set.
void paged_attention(std::span<const float> query,  // [num_tokens, num_heads, head_dim]
                     int64_t num_heads, const PagedKVCacheView& cache,
                     const AttentionMetadata& metadata, const AttentionOptions& options,
                     std::span<float> out);  // [num_tokens, num_heads, head_dim]

// LayerNorm of GPT-2: out[t] = (x[t] - mean) / sqrt(var + eps) * weight + bias, with the
// biased variance of the token's row. `bias` may be empty. `out` may alias `x`.
void layer_norm(Device device, std::span<const float> x,  // [num_tokens, hidden_size]
                std::span<const float> weight,            // [hidden_size]
                std::span<const float> bias,              // [hidden_size] or empty
                double eps, std::span<float> out);        // [num_tokens, hidden_size]

// out = gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), the activation
// transformers calls "gelu_new" and "gelu_pytorch_tanh". `out` may alias `x`.
void gelu_tanh(Device device, std::span<const float> x,  // [n]
               std::span<float> out);                    // [n]

// out = gelu_tanh(gate) * up, the gated MLP activation of Gemma.
void gelu_tanh_and_mul(Device device, std::span<const float> gate,  // [num_tokens, intermediate]
                       std::span<const float> up,    // [num_tokens, intermediate]
                       std::span<float> out);        // [num_tokens, intermediate]

// x = cap * tanh(x / cap), in place: Gemma 2's soft cap of the final logits. `cap` > 0.
void tanh_soft_cap(Device device, std::span<float> x,  // [n]
                   float cap);

}  // namespace ops
}  // namespace vllm
