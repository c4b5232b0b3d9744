// Linear layer on the CPU: y[t, j] = sum_k x[t, k] * w[j, k] (+ bias[j]).
//
// Threads split the output features into tiles of kRowTile rows (static schedule). A thread
// dequantizes its tile's weight rows once into an fp32 scratch buffer and reuses them for
// every token of the batch. Each y[t, j] has one accumulator per SIMD lane over k in chunks
// of the vector width, then a fixed horizontal sum. So it goes through the same operations
// whatever the batch size, the tile it landed in and the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include <immintrin.h>

// GCC 12 reports its own AVX-512 intrinsic headers (the undefined-vector idiom) as reading
// uninitialized values.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "core/thread_pool.h"
#include "kernels/cpu/blocks_avx512.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/kquant_blocks.h"

namespace vllm::cpu {
namespace {

constexpr int64_t kRowTile = 16;  // weight rows dequantized together
constexpr int kTokenBlock = 4;    // tokens per register tile
constexpr int kRowBlock = 4;      // weight rows per register tile
// The fused single-token kernels stream weights that are read once per step, mostly from
// DRAM. With the hardware prefetcher alone, one thread read a 178 MB Q8_0 matrix at about
// 9 GB/s. Prefetching 8 KiB ahead into L2 raised that to about 14 GB/s (27 GB/s on two
// threads). Nearer than 4 KiB was slower, farther than 16 KiB no faster.
constexpr int64_t kPrefetchBytes = 8192;

// --- scalar: 8 lanes emulated, so the order is fixed without SIMD ---------------------

template <int MT, int NR>
void tile_scalar(const float* x, int64_t x_stride, const float* w, int64_t w_stride,
                 int64_t cols, float* y, int64_t y_stride) {
  constexpr int kLanes = 8;
  float acc[MT][NR][kLanes] = {};
  for (int64_t k = 0; k < cols; k += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, cols - k));
    for (int t = 0; t < MT; ++t) {
      for (int r = 0; r < NR; ++r) {
        for (int l = 0; l < n; ++l) acc[t][r][l] += x[t * x_stride + k + l] * w[r * w_stride + k + l];
      }
    }
  }
  for (int t = 0; t < MT; ++t) {
    for (int r = 0; r < NR; ++r) {
      const float* a = acc[t][r];
      y[t * y_stride + r] = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    }
  }
}

// --- AVX2 + FMA: 8 lanes ---------------------------------------------------------------

template <int MT, int NR>
__attribute__((target("avx2,fma"))) void tile_avx2(const float* x, int64_t x_stride,
                                                   const float* w, int64_t w_stride,
                                                   int64_t cols, float* y, int64_t y_stride) {
  __m256 acc[MT][NR];
  for (int t = 0; t < MT; ++t)
    for (int r = 0; r < NR; ++r) acc[t][r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= cols; k += 8) {
    __m256 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm256_loadu_ps(w + r * w_stride + k);
    for (int t = 0; t < MT; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * x_stride + k);
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm256_fmadd_ps(xv, wv[r], acc[t][r]);
    }
  }
  if (k < cols) {
    // Masked lanes load zeros, which leave their accumulators unchanged.
    alignas(32) int32_t lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = (k + l < cols) ? -1 : 0;
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    __m256 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm256_maskload_ps(w + r * w_stride + k, mask);
    for (int t = 0; t < MT; ++t) {
      const __m256 xv = _mm256_maskload_ps(x + t * x_stride + k, mask);
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm256_fmadd_ps(xv, wv[r], acc[t][r]);
    }
  }
  for (int t = 0; t < MT; ++t) {
    for (int r = 0; r < NR; ++r) {
      const __m128 lo = _mm256_castps256_ps128(acc[t][r]);
      const __m128 hi = _mm256_extractf128_ps(acc[t][r], 1);
      __m128 s = _mm_add_ps(lo, hi);
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
      y[t * y_stride + r] = _mm_cvtss_f32(s);
    }
  }
}

// --- AVX-512F: 16 lanes ----------------------------------------------------------------

// Sums the 16 lanes of each of a[0..15] in the tree of _mm512_reduce_add_ps: lane i with
// i + 8, then i + 4, then i + 2, then i + 1. So each sum has the bits of that call, in about
// a third of the instructions of 16 calls. Lane 4 c + q of the result is the sum of a[c + 4 q].
__attribute__((target("avx512f"))) inline __m512 reduce_add16_avx512(const __m512* a) {
  // Level 1, per pair (a[2k], a[2k+1]): 256-bit halves of each 8-lane partial.
  __m512 s1[8];
  for (int k = 0; k < 8; ++k) {
    s1[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                          _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // Level 2: 128-bit chunk c of s2[m] is the 4-lane partial of a[4m + c].
  __m512 s2[4];
  for (int m = 0; m < 4; ++m) {
    s2[m] = _mm512_add_ps(_mm512_shuffle_f32x4(s1[2 * m], s1[2 * m + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_f32x4(s1[2 * m], s1[2 * m + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  // Level 3: chunk c of s3[n] contains the 2-lane partials of a[8n + c] and a[8n + 4 + c].
  __m512 s3[2];
  for (int n = 0; n < 2; ++n) {
    const __m512d even = _mm512_castps_pd(s2[2 * n]);
    const __m512d odd = _mm512_castps_pd(s2[2 * n + 1]);
    const __m512d lo = _mm512_unpacklo_pd(even, odd);
    const __m512d hi = _mm512_unpackhi_pd(even, odd);
    s3[n] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
  }
  // Level 4: chunk c is the sums of a[c], a[c + 4], a[c + 8], a[c + 12].
  return _mm512_add_ps(_mm512_shuffle_ps(s3[0], s3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(s3[0], s3[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

template <int MT, int NR>
__attribute__((target("avx512f"))) void tile_avx512(const float* x, int64_t x_stride,
                                                    const float* w, int64_t w_stride,
                                                    int64_t cols, float* y, int64_t y_stride) {
  __m512 acc[MT][NR];
  for (int t = 0; t < MT; ++t)
    for (int r = 0; r < NR; ++r) acc[t][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= cols; k += 16) {
    __m512 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_loadu_ps(w + r * w_stride + k);
    for (int t = 0; t < MT; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * x_stride + k);
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm512_fmadd_ps(xv, wv[r], acc[t][r]);
    }
  }
  if (k < cols) {
    // Masked lanes load zeros, which leave their accumulators unchanged.
    const __mmask16 mask = static_cast<__mmask16>((1u << (cols - k)) - 1);
    __m512 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_maskz_loadu_ps(mask, w + r * w_stride + k);
    for (int t = 0; t < MT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + t * x_stride + k);
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm512_fmadd_ps(xv, wv[r], acc[t][r]);
    }
  }
  if constexpr (MT * NR < 4) {
    for (int t = 0; t < MT; ++t)
      for (int r = 0; r < NR; ++r) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[t][r]);
  } else {
    __m512 a[16];
    for (int i = 0; i < 16; ++i) a[i] = _mm512_setzero_ps();
    for (int t = 0; t < MT; ++t)
      for (int r = 0; r < NR; ++r) a[t + 4 * r] = acc[t][r];
    // Lane 4 t + r is the sum of acc[t][r].
    alignas(64) float sums[16];
    _mm512_store_ps(sums, reduce_add16_avx512(a));
    for (int t = 0; t < MT; ++t)
      for (int r = 0; r < NR; ++r) y[t * y_stride + r] = sums[4 * t + r];
  }
}

// Fused single-token product for block formats: dequantizes each block into registers and
// feeds it to the same per-lane accumulators, in the same k order, as tile_avx512<1, NR>
// on dequantized rows. So y is bit-identical to the scratch path, without storing and
// reloading the dequantized tile. That made single-token decode of SmolLM2-135M Q4_1 about
// 1.5x faster on an AVX-512 CPU.
template <void (*kBlock)(const uint8_t*, __m512*, __m512*), int64_t kBlockBytes, int NR>
VLLM_BLOCK_AVX512_TARGET void fused_row_avx512(const float* x, const uint8_t* w,
                                                         int64_t row_bytes, int64_t cols,
                                                         float* y) {
  __m512 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + 32 * b);
    const __m512 x1 = _mm512_loadu_ps(x + 32 * b + 16);
    for (int r = 0; r < NR; ++r) {
      __m512 w0, w1;
      const uint8_t* block = w + r * row_bytes + b * kBlockBytes;
      _mm_prefetch(reinterpret_cast<const char*>(block + kPrefetchBytes), _MM_HINT_T1);
      kBlock(block, &w0, &w1);
      acc[r] = _mm512_fmadd_ps(x0, w0, acc[r]);
      acc[r] = _mm512_fmadd_ps(x1, w1, acc[r]);
    }
  }
  for (int r = 0; r < NR; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

// fused_row_avx512 for the 256-element super-blocks of the K-quant formats: each row's
// super-block is decoded into 16 vectors (the same decoder dequantize_row uses), which meet
// the activations in increasing k order.
template <void (*kSuperblock)(const uint8_t*, __m512*), int64_t kBlockBytes, int NR>
VLLM_BLOCK_AVX512_TARGET void fused_superblock_row_avx512(const float* x,
                                                                    const uint8_t* w,
                                                                    int64_t row_bytes,
                                                                    int64_t cols, float* y) {
  __m512 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols / kQkK; ++b) {
    const float* xb = x + kQkK * b;
    for (int r = 0; r < NR; ++r) {
      __m512 v[16];
      const uint8_t* superblock = w + r * row_bytes + b * kBlockBytes;
      for (int64_t line = 0; line < kBlockBytes; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(superblock + kPrefetchBytes + line),
                     _MM_HINT_T1);
      kSuperblock(superblock, v);
      for (int i = 0; i < 16; ++i) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(xb + 16 * i), v[i], acc[r]);
    }
  }
  for (int r = 0; r < NR; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

using FusedFn = void (*)(const float*, const uint8_t*, int64_t, int64_t, float*);

#define VLLM_FUSED_ROW(block, bytes)                                                  \
  {&fused_row_avx512<block, bytes, 1>, &fused_row_avx512<block, bytes, 2>,             \
   &fused_row_avx512<block, bytes, 3>, &fused_row_avx512<block, bytes, 4>}
const FusedFn kFusedQ4_0[4] = VLLM_FUSED_ROW(block_q4_0_avx512, 18);
const FusedFn kFusedQ4_1[4] = VLLM_FUSED_ROW(block_q4_1_avx512, 20);
const FusedFn kFusedQ5_0[4] = VLLM_FUSED_ROW(block_q5_0_avx512, 22);
const FusedFn kFusedQ8_0[4] = VLLM_FUSED_ROW(block_q8_0_avx512, 34);
const FusedFn kFusedF16[4] = VLLM_FUSED_ROW(block_f16_avx512, 64);
const FusedFn kFusedBF16[4] = VLLM_FUSED_ROW(block_bf16_avx512, 64);
#undef VLLM_FUSED_ROW

#define VLLM_FUSED_SUPERBLOCK_ROW(superblock, bytes)                                       \
  {&fused_superblock_row_avx512<superblock, bytes, 1>,                                     \
   &fused_superblock_row_avx512<superblock, bytes, 2>,                                     \
   &fused_superblock_row_avx512<superblock, bytes, 3>,                                     \
   &fused_superblock_row_avx512<superblock, bytes, 4>}
const FusedFn kFusedQ4_K[4] = VLLM_FUSED_SUPERBLOCK_ROW(superblock_q4_k_avx512, kQ4KBytes);
const FusedFn kFusedQ5_K[4] = VLLM_FUSED_SUPERBLOCK_ROW(superblock_q5_k_avx512, kQ5KBytes);
const FusedFn kFusedQ6_K[4] = VLLM_FUSED_SUPERBLOCK_ROW(superblock_q6_k_avx512, kQ6KBytes);
#undef VLLM_FUSED_SUPERBLOCK_ROW

// Returns the fused kernels [nr - 1] for a single token, or null where none exists.
const FusedFn* fused_table(CpuIsa isa, GGMLType type, int64_t cols, int64_t num_tokens) {
  if (isa < CpuIsa::kAvx512 || num_tokens != 1) return nullptr;
  switch (type) {
    // Read as blocks of 32 elements, which rows of other lengths do not divide into.
    case GGMLType::F16: return cols % 32 == 0 ? kFusedF16 : nullptr;
    case GGMLType::BF16: return cols % 32 == 0 ? kFusedBF16 : nullptr;
    case GGMLType::Q4_0: return kFusedQ4_0;
    case GGMLType::Q4_1: return kFusedQ4_1;
    case GGMLType::Q5_0: return kFusedQ5_0;
    case GGMLType::Q8_0: return kFusedQ8_0;
    case GGMLType::Q4_K: return kFusedQ4_K;
    case GGMLType::Q5_K: return kFusedQ5_K;
    case GGMLType::Q6_K: return kFusedQ6_K;
    default: return nullptr;
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*,
                        int64_t);


// Table of register-tile kernels indexed by [mt - 1][nr - 1].
#define VLLM_TILE_ROW(fn, MT) {&fn<MT, 1>, &fn<MT, 2>, &fn<MT, 3>, &fn<MT, 4>}
#define VLLM_TILE_TABLE(fn) \
  {VLLM_TILE_ROW(fn, 1), VLLM_TILE_ROW(fn, 2), VLLM_TILE_ROW(fn, 3), VLLM_TILE_ROW(fn, 4)}

const TileFn kScalarTiles[4][4] = VLLM_TILE_TABLE(tile_scalar);
const TileFn kAvx2Tiles[4][4] = VLLM_TILE_TABLE(tile_avx2);
const TileFn kAvx512Tiles[4][4] = VLLM_TILE_TABLE(tile_avx512);

#undef VLLM_TILE_TABLE
#undef VLLM_TILE_ROW

const TileFn (*tile_table(CpuIsa isa))[4] {
  switch (isa) {
    case CpuIsa::kAvx512Amx:
    case CpuIsa::kAvx512Vnni:
    case CpuIsa::kAvx512: return kAvx512Tiles;
    case CpuIsa::kAvx2: return kAvx2Tiles;
    case CpuIsa::kScalar: break;
  }
  return kScalarTiles;
}

}  // namespace

void dot_tile(int mt, int nr, const float* x, int64_t x_stride, const float* w,
              int64_t w_stride, int64_t cols, float* y, int64_t y_stride) {
  tile_table(active_isa())[mt - 1][nr - 1](x, x_stride, w, w_stride, cols, y, y_stride);
}

void linear(const float* x, int64_t num_tokens, const WeightMatrix& weight, const float* bias,
            float* y) {
  if (weight.layout == WeightLayout::kRowGroups16) {
    linear_row_groups(x, num_tokens, weight, bias, y);
    return;
  }
  if (activation_quant_enabled() && linear_int8_supported(weight.type)) {
    linear_int8(x, num_tokens, weight, bias, y);
    return;
  }
  const int64_t rows = weight.rows;
  const int64_t cols = weight.cols;
  const int64_t row_bytes = weight.row_bytes();
  const int64_t num_tiles = (rows + kRowTile - 1) / kRowTile;
  const CpuIsa isa = active_isa();
  const auto tiles = tile_table(isa);
  const FusedFn* fused = fused_table(isa, weight.type, cols, num_tokens);
  parallel_for(num_tiles, [&](int64_t first_tile, int64_t end_tile) {
    // [kRowTile, cols] dequantized weight rows. Pool threads live as long as the process, so
    // the buffer is allocated once per thread and reused by later calls.
    static thread_local std::vector<float> scratch;
    if (weight.type != GGMLType::F32 && scratch.size() < static_cast<size_t>(kRowTile * cols))
      scratch.resize(static_cast<size_t>(kRowTile * cols));

    for (int64_t tile = first_tile; tile < end_tile; ++tile) {
      const int64_t row0 = tile * kRowTile;
      const int64_t tile_rows = std::min(kRowTile, rows - row0);
      if (fused != nullptr) {
        for (int64_t r = 0; r < tile_rows; r += kRowBlock) {
          const int nr = static_cast<int>(std::min<int64_t>(kRowBlock, tile_rows - r));
          fused[nr - 1](x, weight.data + (row0 + r) * row_bytes, row_bytes, cols, y + row0 + r);
        }
        if (bias != nullptr) {
          for (int64_t j = row0; j < row0 + tile_rows; ++j) y[j] += bias[j];
        }
        continue;
      }
      const float* w;
      if (weight.type == GGMLType::F32) {
        w = reinterpret_cast<const float*>(weight.data + row0 * row_bytes);
      } else {
        dequantize_row(weight.type, weight.data + row0 * row_bytes, scratch.data(),
                       tile_rows * cols);
        w = scratch.data();
      }
      for (int64_t t0 = 0; t0 < num_tokens; t0 += kTokenBlock) {
        const int mt = static_cast<int>(std::min<int64_t>(kTokenBlock, num_tokens - t0));
        for (int64_t r = 0; r < tile_rows; r += kRowBlock) {
          const int nr = static_cast<int>(std::min<int64_t>(kRowBlock, tile_rows - r));
          tiles[mt - 1][nr - 1](x + t0 * cols, cols, w + r * cols, cols, cols,
                                y + t0 * rows + row0 + r, rows);
        }
      }
      if (bias != nullptr) {
        for (int64_t t = 0; t < num_tokens; ++t)
          for (int64_t j = row0; j < row0 + tile_rows; ++j) y[t * rows + j] += bias[j];
      }
    }
  });
}

}  // namespace vllm::cpu
