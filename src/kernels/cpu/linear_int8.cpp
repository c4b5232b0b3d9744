// Linear layer on int8-quantized activations, for Q4_0, Q4_1 and Q8_0 weights.
//
// Each token's activations are quantized per 32-element block like ggml's Q8_0:
// d = max|x| / 127, q = round(x / d) (to nearest even). A weight block and an activation
// block then meet in integer arithmetic. Lane l (0-7) of a block's product is the exact
// int32 sum of w[i] * q[i] over i in [4l, 4l + 4). Here w is the weight's integer code:
// nibble - 8 (Q4_0), nibble (Q4_1) or int8 (Q8_0). Per lane, in block order:
//   acc[l] = fma(float(lane sum), d_w * d_x, acc[l])
//   acc[l] = fma(m_w, d_x * sum of q[4l..4l+3], acc[l])    (Q4_1's minimum term only)
// then y = ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7)) (+ bias).
// The lane sums are exact on every path (vpdpbusd, AVX2 maddubs/madd, or scalar), and the
// float operations are the same, so all paths give the same bits, for a token alone or in a
// batch, on any thread.
//
// vpdpbusd multiplies unsigned by signed bytes: Q4_0 and Q8_0 weights are fed as the
// unsigned codes w + 8 and w + 128, and the activation block's lane sums times -8 or -128
// start the accumulation, which cancels the offset exactly.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/half.h"

namespace vllm::cpu {
namespace {

constexpr int64_t kBlock = 32;        // elements per quantization block
constexpr int64_t kRowTile = 16;      // weight rows per unit of thread work
constexpr int64_t kTokenChunk = 64;   // tokens whose activations stay in cache across tiles
constexpr int kTokenBlock = 4;        // tokens per register tile
constexpr int kRowBlock = 4;          // weight rows per register tile

// One token's 32 activations, x[i] ~= d * qs[i].
struct alignas(64) QuantizedBlock {
  int8_t qs[32];
  // Lane l: -offset * (qs[4l] + ... + qs[4l + 3]), with the weight type's unsigned offset
  // (8 for Q4_0, 128 for Q8_0, 0 for Q4_1), the start value of vpdpbusd.
  int32_t offset_lanes[8];
  float sum_lanes[8];  // lane l: d * (qs[4l] + ... + qs[4l + 3]), for Q4_1
  float d;
};

int32_t unsigned_offset(GGMLType type) {
  switch (type) {
    case GGMLType::Q4_0: return 8;
    case GGMLType::Q8_0: return 128;
    default: return 0;
  }
}

// Fills the lane sums of a block whose qs and d are set.
void finish_block(QuantizedBlock& block, int32_t offset) {
  for (int l = 0; l < 8; ++l) {
    const int32_t sum = block.qs[4 * l] + block.qs[4 * l + 1] + block.qs[4 * l + 2] +
                        block.qs[4 * l + 3];
    block.offset_lanes[l] = -offset * sum;
    block.sum_lanes[l] = block.d * static_cast<float>(sum);
  }
}

void quantize_row_scalar(const float* x, int64_t cols, int32_t offset, QuantizedBlock* out) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* v = x + b * kBlock;
    float amax = 0.0f;
    for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(v[i]));
    QuantizedBlock& block = out[b];
    block.d = amax / 127.0f;
    const float inverse = block.d != 0.0f ? 1.0f / block.d : 0.0f;
    for (int i = 0; i < kBlock; ++i) {
      block.qs[i] = static_cast<int8_t>(static_cast<int32_t>(std::nearbyint(v[i] * inverse)));
    }
    finish_block(block, offset);
  }
}

// Same values as quantize_row_scalar: max is exact, and the product rounds once before the
// conversion rounds to nearest even (the default MXCSR mode, as nearbyint's default).
__attribute__((target("avx2,fma"))) void quantize_row_avx2(const float* x, int64_t cols,
                                                           int32_t offset,
                                                           QuantizedBlock* out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* v = x + b * kBlock;
    __m256 values[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      values[i] = _mm256_loadu_ps(v + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, values[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    QuantizedBlock& block = out[b];
    block.d = _mm_cvtss_f32(m) / 127.0f;
    const __m256 inverse = _mm256_set1_ps(block.d != 0.0f ? 1.0f / block.d : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(values[i], inverse));
    // Packing interleaves 4-element groups across the 128-bit halves; the permute restores
    // element order.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                              _mm256_packs_epi32(q[2], q[3]));
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(block.qs), ordered);
    // Lane sums of 4 consecutive bytes: pairs by maddubs (1 * q), then pairs of pairs.
    const __m256i sums = _mm256_madd_epi16(
        _mm256_maddubs_epi16(_mm256_set1_epi8(1), ordered), _mm256_set1_epi16(1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(block.offset_lanes),
                        _mm256_mullo_epi32(sums, _mm256_set1_epi32(-offset)));
    _mm256_storeu_ps(block.sum_lanes,
                     _mm256_mul_ps(_mm256_set1_ps(block.d), _mm256_cvtepi32_ps(sums)));
  }
}

// --- weight block layouts ---------------------------------------------------------------

template <GGMLType T>
struct BlockFormat;
template <>
struct BlockFormat<GGMLType::Q4_0> {
  static constexpr int64_t kBytes = 18;  // d; qs[16]
  static constexpr int64_t kQuants = 2;
  static constexpr bool kHasMin = false;
};
template <>
struct BlockFormat<GGMLType::Q4_1> {
  static constexpr int64_t kBytes = 20;  // d, m; qs[16]
  static constexpr int64_t kQuants = 4;
  static constexpr bool kHasMin = true;
};
template <>
struct BlockFormat<GGMLType::Q8_0> {
  static constexpr int64_t kBytes = 34;  // d; qs[32]
  static constexpr int64_t kQuants = 2;
  static constexpr bool kHasMin = false;
};

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// --- scalar --------------------------------------------------------------------------------

// Signed integer code of element i of a weight block.
template <GGMLType T>
int32_t weight_code(const uint8_t* block, int i) {
  const uint8_t* qs = block + BlockFormat<T>::kQuants;
  if constexpr (T == GGMLType::Q8_0) {
    return static_cast<int8_t>(qs[i]);
  } else {
    const int32_t nibble = i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4);
    return T == GGMLType::Q4_0 ? nibble - 8 : nibble;
  }
}

template <GGMLType T, int MT, int NR>
void tile_scalar(const QuantizedBlock* x, int64_t x_stride, const uint8_t* w, int64_t row_bytes,
                 int64_t num_blocks, float* y, int64_t y_stride) {
  float acc[MT][NR][8] = {};
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int r = 0; r < NR; ++r) {
      const uint8_t* block = w + r * row_bytes + b * BlockFormat<T>::kBytes;
      const float dw = half_to_float(load_u16(block));
      for (int t = 0; t < MT; ++t) {
        const QuantizedBlock& q = x[t * x_stride + b];
        const float scale = dw * q.d;
        for (int l = 0; l < 8; ++l) {
          int32_t sum = 0;
          for (int i = 4 * l; i < 4 * l + 4; ++i) sum += weight_code<T>(block, i) * q.qs[i];
          acc[t][r][l] = std::fma(static_cast<float>(sum), scale, acc[t][r][l]);
        }
        if constexpr (BlockFormat<T>::kHasMin) {
          const float mw = half_to_float(load_u16(block + 2));
          for (int l = 0; l < 8; ++l) acc[t][r][l] = std::fma(mw, q.sum_lanes[l], acc[t][r][l]);
        }
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

// --- AVX2 and AVX-512 VNNI: 8 int32 lanes per block in a 256-bit register ------------------

#define VLLM_AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define VLLM_VNNI_TARGET \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma,f16c")))

// Unsigned nibbles of a 4-bit block in element order: low nibbles (0-15), high (16-31).
VLLM_AVX2_TARGET inline __m256i nibbles_avx2(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask),
                          _mm_and_si128(bytes, mask));
}

VLLM_VNNI_TARGET inline __m256i nibbles_vnni(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask),
                          _mm_and_si128(bytes, mask));
}

// Weight operand of lane_sums_*: what the integer product needs from a block.
template <GGMLType T>
VLLM_AVX2_TARGET inline __m256i weight_operand_avx2(const uint8_t* block) {
  if constexpr (T == GGMLType::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));  // signed codes
  } else {
    return nibbles_avx2(block + BlockFormat<T>::kQuants);  // unsigned nibbles
  }
}

template <GGMLType T>
VLLM_VNNI_TARGET inline __m256i weight_operand_vnni(const uint8_t* block) {
  if constexpr (T == GGMLType::Q8_0) {
    const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
    return _mm256_xor_si256(codes, _mm256_set1_epi8(static_cast<char>(0x80)));  // w + 128
  } else {
    return nibbles_vnni(block + BlockFormat<T>::kQuants);
  }
}

// Exact lane sums of w * q (see the file comment).
template <GGMLType T>
VLLM_AVX2_TARGET inline __m256i lane_sums_avx2(__m256i w, __m256i q, const int32_t* offset) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (T == GGMLType::Q8_0) {
    // |w| * (q with w's sign): |w| <= 128 and |q| <= 127 keep maddubs's pair sums below
    // its 16-bit saturation.
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(q, w)),
                             ones);
  } else {
    const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(w, q), ones);
    if constexpr (T == GGMLType::Q4_0) {
      return _mm256_add_epi32(sums,
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offset)));
    } else {
      return sums;
    }
  }
}

template <GGMLType T>
VLLM_VNNI_TARGET inline __m256i lane_sums_vnni(__m256i w, __m256i q, const int32_t* offset) {
  const __m256i start = BlockFormat<T>::kHasMin
                            ? _mm256_setzero_si256()
                            : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offset));
  return _mm256_dpbusd_epi32(start, w, q);
}

// The register tile, for one ISA: MT tokens by NR rows.
#define VLLM_INT8_TILE(NAME, TARGET, SUFFIX)                                                 \
  template <GGMLType T, int MT, int NR>                                                      \
  TARGET void NAME(const QuantizedBlock* x, int64_t x_stride, const uint8_t* w,              \
                   int64_t row_bytes, int64_t num_blocks, float* y, int64_t y_stride) {      \
    __m256 acc[MT][NR];                                                                      \
    for (int t = 0; t < MT; ++t)                                                             \
      for (int r = 0; r < NR; ++r) acc[t][r] = _mm256_setzero_ps();                          \
    for (int64_t b = 0; b < num_blocks; ++b) {                                               \
      __m256i wv[NR];                                                                        \
      float dw[NR], mw[NR];                                                                  \
      for (int r = 0; r < NR; ++r) {                                                         \
        const uint8_t* block = w + r * row_bytes + b * BlockFormat<T>::kBytes;               \
        wv[r] = weight_operand_##SUFFIX<T>(block);                                           \
        dw[r] = _cvtsh_ss(load_u16(block));                                                  \
        mw[r] = BlockFormat<T>::kHasMin ? _cvtsh_ss(load_u16(block + 2)) : 0.0f;             \
      }                                                                                      \
      for (int t = 0; t < MT; ++t) {                                                         \
        const QuantizedBlock& q = x[t * x_stride + b];                                       \
        const __m256i qv = _mm256_load_si256(reinterpret_cast<const __m256i*>(q.qs));        \
        for (int r = 0; r < NR; ++r) {                                                       \
          const __m256i sums = lane_sums_##SUFFIX<T>(wv[r], qv, q.offset_lanes);             \
          acc[t][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(dw[r] * q.d), \
                                      acc[t][r]);                                            \
          if constexpr (BlockFormat<T>::kHasMin) {                                           \
            acc[t][r] = _mm256_fmadd_ps(_mm256_set1_ps(mw[r]),                               \
                                        _mm256_load_ps(q.sum_lanes), acc[t][r]);             \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
    for (int t = 0; t < MT; ++t) {                                                           \
      for (int r = 0; r < NR; ++r) {                                                         \
        const __m128 lo = _mm256_castps256_ps128(acc[t][r]);                                 \
        const __m128 hi = _mm256_extractf128_ps(acc[t][r], 1);                               \
        __m128 s = _mm_add_ps(lo, hi);                                                       \
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                              \
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));                                          \
        y[t * y_stride + r] = _mm_cvtss_f32(s);                                              \
      }                                                                                      \
    }                                                                                        \
  }

VLLM_INT8_TILE(tile_avx2, VLLM_AVX2_TARGET, avx2)
VLLM_INT8_TILE(tile_vnni, VLLM_VNNI_TARGET, vnni)
#undef VLLM_INT8_TILE

using TileFn = void (*)(const QuantizedBlock*, int64_t, const uint8_t*, int64_t, int64_t,
                        float*, int64_t);
using TileTable = TileFn[kTokenBlock][kRowBlock];

#define VLLM_TILE_ROW(fn, T, MT) {&fn<T, MT, 1>, &fn<T, MT, 2>, &fn<T, MT, 3>, &fn<T, MT, 4>}
#define VLLM_TILE_TABLE(fn, T) \
  {VLLM_TILE_ROW(fn, T, 1), VLLM_TILE_ROW(fn, T, 2), VLLM_TILE_ROW(fn, T, 3), VLLM_TILE_ROW(fn, T, 4)}

template <GGMLType T>
const TileTable& tile_table(CpuIsa isa) {
  static const TileTable scalar = VLLM_TILE_TABLE(tile_scalar, T);
  static const TileTable avx2 = VLLM_TILE_TABLE(tile_avx2, T);
  static const TileTable vnni = VLLM_TILE_TABLE(tile_vnni, T);
  switch (isa) {
    case CpuIsa::kAvx512Amx:
    case CpuIsa::kAvx512Vnni: return vnni;
    case CpuIsa::kAvx512:
    case CpuIsa::kAvx2: return avx2;
    case CpuIsa::kScalar: break;
  }
  return scalar;
}

#undef VLLM_TILE_TABLE
#undef VLLM_TILE_ROW

const TileTable& tile_table(GGMLType type, CpuIsa isa) {
  switch (type) {
    case GGMLType::Q4_0: return tile_table<GGMLType::Q4_0>(isa);
    case GGMLType::Q4_1: return tile_table<GGMLType::Q4_1>(isa);
    default: return tile_table<GGMLType::Q8_0>(isa);
  }
}

bool read_activation_quant_env() {
  const char* value = std::getenv("VLLM_CPU_ACTIVATION_QUANT");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

std::atomic<bool> g_activation_quant{read_activation_quant_env()};

}  // namespace

bool activation_quant_enabled() { return g_activation_quant.load(std::memory_order_relaxed); }

void set_activation_quant(bool enabled) {
  g_activation_quant.store(enabled, std::memory_order_relaxed);
}

bool linear_int8_supported(GGMLType type) {
  return type == GGMLType::Q4_0 || type == GGMLType::Q4_1 || type == GGMLType::Q8_0;
}

void linear_int8(const float* x, int64_t num_tokens, const WeightMatrix& weight,
                 const float* bias, float* y) {
  const int64_t rows = weight.rows;
  const int64_t cols = weight.cols;
  const int64_t num_blocks = cols / kBlock;
  const int64_t row_bytes = weight.row_bytes();
  const CpuIsa isa = active_isa();
  const int32_t offset = unsigned_offset(weight.type);

  // [num_tokens, num_blocks] quantized activations, reused across calls on this thread.
  static thread_local std::vector<QuantizedBlock> quantized;
  if (quantized.size() < static_cast<size_t>(num_tokens * num_blocks)) {
    quantized.resize(static_cast<size_t>(num_tokens * num_blocks));
  }
  QuantizedBlock* xq = quantized.data();
  parallel_for(num_tokens, [&](int64_t first_token, int64_t end_token) {
    for (int64_t t = first_token; t < end_token; ++t) {
      if (isa >= CpuIsa::kAvx2) {
        quantize_row_avx2(x + t * cols, cols, offset, xq + t * num_blocks);
      } else {
        quantize_row_scalar(x + t * cols, cols, offset, xq + t * num_blocks);
      }
    }
  });

  const TileTable& tiles = tile_table(weight.type, isa);
  const int64_t num_tiles = (rows + kRowTile - 1) / kRowTile;
  parallel_for(num_tiles, [&](int64_t first_tile, int64_t end_tile) {
    for (int64_t chunk = 0; chunk < num_tokens; chunk += kTokenChunk) {
      const int64_t chunk_end = std::min(num_tokens, chunk + kTokenChunk);
      for (int64_t tile = first_tile; tile < end_tile; ++tile) {
        const int64_t row0 = tile * kRowTile;
        const int64_t tile_rows = std::min(kRowTile, rows - row0);
        for (int64_t t0 = chunk; t0 < chunk_end; t0 += kTokenBlock) {
          const int mt = static_cast<int>(std::min<int64_t>(kTokenBlock, chunk_end - t0));
          for (int64_t r = 0; r < tile_rows; r += kRowBlock) {
            const int nr = static_cast<int>(std::min<int64_t>(kRowBlock, tile_rows - r));
            tiles[mt - 1][nr - 1](xq + t0 * num_blocks, num_blocks,
                                  weight.data + (row0 + r) * row_bytes, row_bytes, num_blocks,
                                  y + t0 * rows + row0 + r, rows);
          }
        }
      }
    }
    if (bias != nullptr) {
      for (int64_t tile = first_tile; tile < end_tile; ++tile) {
        const int64_t row0 = tile * kRowTile;
        const int64_t row_end = std::min(rows, row0 + kRowTile);
        for (int64_t t = 0; t < num_tokens; ++t)
          for (int64_t j = row0; j < row_end; ++j) y[t * rows + j] += bias[j];
      }
    }
  });
}

}  // namespace vllm::cpu
