// Linear layer on Q4_0, Q4_1, Q5_0, Q8_0 and Q4_K weights stored in row groups, with activations
// split into three int8 slices. Only the AVX-512 VNNI path packs weights this way. On AMX,
// tiles of 16 tokens take their integer sums from tdpbssd (see the AMX tile below).
//
// Row-group layout: 16 consecutive rows form a group, stored as the group's file blocks in
// increasing k (Q4_K's layout is at GroupFormat<Q4_K>). One group block of the 32-element
// formats holds, for the 16 rows (lanes) l:
//   d[16]     float16 scales                                     32 bytes
//   m[16]     float16 minimums (Q4_1 only)                       32 bytes
//   qh[16]    Q5_0 only: one uint32 per row, byte j holding bits 4j..4j+3 of the row's
//             qh in its low nibble and bits 16+4j..16+4j+3 in its high nibble     64 bytes
//   codes     Q8_0: 8 vectors of 64 bytes; lane l of vector j is row l's elements 4j..4j+3
//             as unsigned bytes w + 128. The 4-bit formats: 4 vectors of 64 bytes; lane l
//             of vector j is row l's qs bytes 4j..4j+3 (low nibbles elements 4j..4j+3, high
//             nibbles elements 16+4j..16+4j+3).
// A group block has the size of 16 file blocks, so a group takes the bytes of its 16 rows
// and packing can run in place. One vpdpbusd then multiplies 4 elements of 16 rows with 4
// activation bytes broadcast to every lane.
//
// Activations: per token and 32-element block, d = max|x| / 127 and
//   q1 = round(x / d), q2 = round(128 (x - q1 d) / d), q3 = round(16384 (x - q1 d - q2 d/128) / d)
// (each residual by one fma, every value clamped to [-127, 127]). So x = d (q1 + q2 / 128 +
// q3 / 16384) to within d / 32768: 2^-22 of the block's largest value, against 2^-8 for
// int8 alone. One int8 slice moved the goldens' logprobs by 0.99, two by 0.007, three by
// 6e-5, against 3e-5 for float32 (tolerance 1e-3). See docs/kernels.md.
//
// With w the weight's signed integer code (Q8_0: int8, Q4_0: nibble - 8, Q4_1: nibble,
// Q5_0: 5-bit value - 16), each output y[t, r] is, over blocks b in order:
//   S1  = sum_i w_i q1_i,  S23 = sum_i w_i (128 q2_i + q3_i)        (exact int32)
//   Q8_0:     sum = fma(float(S23), 1 / 16384, float(S1)),  acc = fma(sum, d_w * d_x, acc)
//   the rest: acc = fma(float(16384 S1 + S23), d_w * (d_x / 16384), acc)
//   acc = fma(m_w, sum_x, acc)                                      (Q4_1 only)
// where sum_x = float(sum_i (16384 q1_i + 128 q2_i + q3_i)) * (d_x / 16384). Both forms round
// the same value, scaled by 2^14, so they give the same bits. Codes below 32 let 16384 S1 +
// S23 fit in int32, which saves a conversion and a multiply-add per block (Q5_0's product 4%
// faster). Q8_0's 8-bit codes do not fit. The integer sums are exact and the float steps the
// same on the scalar and VNNI paths, so a token's output has the same bits alone or in a
// batch, on any thread and either path.
//
// vpdpbusd multiplies unsigned by signed bytes. Q8_0 codes are stored as w + 128, Q4_0 and
// Q5_0 nibbles as w + 8 and w + 16; the activation sums times -128, -8 or -16 cancel the
// offset exactly.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <immintrin.h>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/reduce_avx512.h"

// GCC 12 reports its own AVX-512 intrinsic headers (the undefined-vector idiom) as reading
// uninitialized values.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace vllm::cpu {
namespace {

constexpr int64_t kBlock = 32;           // elements per quantization block
constexpr int64_t kGroupRows = 16;       // rows per group, one per 32-bit lane of a zmm
constexpr int64_t kTokenChunk = 64;      // tokens whose activations stay in cache across groups
constexpr int kTokenBlock = 4;           // tokens per register tile
constexpr int64_t kSpanGroups = 16;      // groups per bound of linear_row_groups_max
constexpr float kSlice3Scale = 1.0f / 16384.0f;
// Blocks whose d is below this become zero slices, so that 16384 / d stays finite. Their
// values are below 2^-93.
constexpr float kMinScale = 0x1p-100f;

// One token's 32 activations in three slices (see the file comment).
struct alignas(64) SlicedBlock {
  int8_t q1[32];
  int8_t q2[32];
  int8_t q3[32];
  float d;          // scale of q1
  float d_joined;   // d / 16384, the scale of the joined sums of the 4- and 5-bit types
  int32_t sum1;     // sum of q1
  int32_t sum23;    // sum of 128 q2 + q3
  int32_t sum_all;  // 16384 sum1 + sum23
  float sum;        // float(sum_all) * (d / 16384), the block's activation sum
};

// Layout of one group block of weight type T (see the file comment).
template <GGMLType T>
struct GroupFormat;
template <>
struct GroupFormat<GGMLType::Q4_0> {
  static constexpr int64_t kElements = 32;   // elements per file block
  static constexpr int64_t kFileBytes = 18;  // d; qs[16]
  static constexpr int64_t kCodes = 32;      // offset of the code vectors
  static constexpr int32_t kOffset = 8;
};
template <>
struct GroupFormat<GGMLType::Q4_1> {
  static constexpr int64_t kElements = 32;
  static constexpr int64_t kFileBytes = 20;  // d, m; qs[16]
  static constexpr int64_t kCodes = 64;
  static constexpr int32_t kOffset = 0;
};
template <>
struct GroupFormat<GGMLType::Q5_0> {
  static constexpr int64_t kElements = 32;
  static constexpr int64_t kFileBytes = 22;  // d; qh[4]; qs[16]
  static constexpr int64_t kCodes = 96;
  static constexpr int32_t kOffset = 16;
};
template <>
struct GroupFormat<GGMLType::Q8_0> {
  static constexpr int64_t kElements = 32;
  static constexpr int64_t kFileBytes = 34;  // d; qs[32]
  static constexpr int64_t kCodes = 32;
  static constexpr int32_t kOffset = 128;
};
// Q4_K super-block: d, dmin, scales[12] (6-bit scale and minimum of 8 sub-blocks of 32),
// then qs[128]. Bytes 32p..32p+31 of qs carry sub-block 2p in their low nibbles and 2p + 1 in
// their high ones. Element e of sub-block s has the value d sc_s q_e - dmin m_s.
// A group block: d[16], dmin[16], the scales as 3 vectors (lane l of vector v is row l's
// scale bytes 4v..4v+3), then qs as 32 vectors (lane l of vector k is row l's qs bytes
// 4k..4k+3).
template <>
struct GroupFormat<GGMLType::Q4_K> {
  static constexpr int64_t kElements = 256;
  static constexpr int64_t kFileBytes = 144;
  static constexpr int64_t kCodes = 256;
  static constexpr int32_t kOffset = 0;
};

template <GGMLType T>
constexpr int64_t group_block_bytes() {
  return kGroupRows * GroupFormat<T>::kFileBytes;
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof(v)); }

// --- packing ---------------------------------------------------------------------------------

// Bits 4j..4j+3 and 16+4j..16+4j+3 of a Q5_0 qh word, as byte j's low and high nibbles.
uint32_t arrange_qh(uint32_t qh) {
  uint32_t arranged = 0;
  for (int j = 0; j < 4; ++j) {
    const uint32_t lo = (qh >> (4 * j)) & 0x0F;
    const uint32_t hi = (qh >> (16 + 4 * j)) & 0x0F;
    arranged |= (lo | (hi << 4)) << (8 * j);
  }
  return arranged;
}

uint32_t restore_qh(uint32_t arranged) {
  uint32_t qh = 0;
  for (int j = 0; j < 4; ++j) {
    const uint32_t byte = (arranged >> (8 * j)) & 0xFF;
    qh |= (byte & 0x0F) << (4 * j);
    qh |= (byte >> 4) << (16 + 4 * j);
  }
  return qh;
}

// Writes the group block of 16 file blocks (row l's block at src + l * row_bytes).
template <GGMLType T>
void pack_group_block(const uint8_t* src, int64_t row_bytes, uint8_t* dst) {
  using F = GroupFormat<T>;
  for (int64_t l = 0; l < kGroupRows; ++l) {
    const uint8_t* block = src + l * row_bytes;
    std::memcpy(dst + 2 * l, block, 2);  // d
    if constexpr (T == GGMLType::Q4_K) {
      std::memcpy(dst + 32 + 2 * l, block + 2, 2);  // dmin
      for (int v = 0; v < 3; ++v) std::memcpy(dst + 64 + 64 * v + 4 * l, block + 4 + 4 * v, 4);
      for (int k = 0; k < 32; ++k) std::memcpy(dst + F::kCodes + 64 * k + 4 * l, block + 16 + 4 * k, 4);
    } else if constexpr (T == GGMLType::Q8_0) {
      for (int j = 0; j < 8; ++j) {
        for (int i = 0; i < 4; ++i) {
          dst[F::kCodes + 64 * j + 4 * l + i] = static_cast<uint8_t>(block[2 + 4 * j + i] ^ 0x80);
        }
      }
    } else {
      const uint8_t* qs = block + F::kFileBytes - 16;
      if constexpr (T == GGMLType::Q4_1) std::memcpy(dst + 32 + 2 * l, block + 2, 2);  // m
      if constexpr (T == GGMLType::Q5_0) store_u32(dst + 32 + 4 * l, arrange_qh(load_u32(block + 2)));
      for (int j = 0; j < 4; ++j) std::memcpy(dst + F::kCodes + 64 * j + 4 * l, qs + 4 * j, 4);
    }
  }
}

// Inverse of pack_group_block for row l: the file block's bytes.
template <GGMLType T>
void unpack_file_block(const uint8_t* group_block, int64_t l, uint8_t* block) {
  using F = GroupFormat<T>;
  std::memcpy(block, group_block + 2 * l, 2);
  if constexpr (T == GGMLType::Q4_K) {
    std::memcpy(block + 2, group_block + 32 + 2 * l, 2);
    for (int v = 0; v < 3; ++v) std::memcpy(block + 4 + 4 * v, group_block + 64 + 64 * v + 4 * l, 4);
    for (int k = 0; k < 32; ++k) std::memcpy(block + 16 + 4 * k, group_block + F::kCodes + 64 * k + 4 * l, 4);
  } else if constexpr (T == GGMLType::Q8_0) {
    for (int j = 0; j < 8; ++j) {
      for (int i = 0; i < 4; ++i) {
        block[2 + 4 * j + i] = static_cast<uint8_t>(group_block[F::kCodes + 64 * j + 4 * l + i] ^ 0x80);
      }
    }
  } else {
    uint8_t* qs = block + F::kFileBytes - 16;
    if constexpr (T == GGMLType::Q4_1) std::memcpy(block + 2, group_block + 32 + 2 * l, 2);
    if constexpr (T == GGMLType::Q5_0) store_u32(block + 2, restore_qh(load_u32(group_block + 32 + 4 * l)));
    for (int j = 0; j < 4; ++j) std::memcpy(qs + 4 * j, group_block + F::kCodes + 64 * j + 4 * l, 4);
  }
}

template <GGMLType T>
void pack_groups(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const int64_t num_blocks = cols / GroupFormat<T>::kElements;
  const int64_t row_bytes = num_blocks * GroupFormat<T>::kFileBytes;
  const int64_t group_bytes = kGroupRows * row_bytes;
  parallel_for(rows / kGroupRows, [&](int64_t first, int64_t end) {
    // The group's rows, copied first so that dst may be src.
    std::vector<uint8_t> rows_copy(static_cast<size_t>(group_bytes));
    for (int64_t g = first; g < end; ++g) {
      std::memcpy(rows_copy.data(), src + g * group_bytes, static_cast<size_t>(group_bytes));
      uint8_t* out = dst + g * group_bytes;
      for (int64_t b = 0; b < num_blocks; ++b) {
        pack_group_block<T>(rows_copy.data() + b * GroupFormat<T>::kFileBytes, row_bytes,
                            out + b * group_block_bytes<T>());
      }
    }
  });
}

template <GGMLType T>
void dequantize_group_row(const uint8_t* group, int64_t lane, int64_t cols, float* out) {
  constexpr int64_t kElements = GroupFormat<T>::kElements;
  uint8_t block[GroupFormat<T>::kFileBytes];
  for (int64_t b = 0; b < cols / kElements; ++b) {
    unpack_file_block<T>(group + b * group_block_bytes<T>(), lane, block);
    dequantize_row(T, block, out + b * kElements, kElements);
  }
}

// --- activation slices ----------------------------------------------------------------------

int8_t slice_code(float v) {
  // Same as the vector path: round to nearest even, then clamp; v is finite here.
  return static_cast<int8_t>(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
}

// Sets a block's sums from the sum of q1 and the sum of 128 q2 + q3, once its d is set. The
// tiles read the joined forms for every group, so they are computed here once per block.
void set_block_sums(SlicedBlock& block, int32_t sum1, int32_t sum23) {
  block.sum1 = sum1;
  block.sum23 = sum23;
  block.sum_all = 16384 * sum1 + sum23;
  block.d_joined = block.d * kSlice3Scale;
  block.sum = static_cast<float>(block.sum_all) * block.d_joined;
}

// Fills the sums of a block whose slices and d are set.
void finish_block(SlicedBlock& block) {
  int32_t sum1 = 0, sum23 = 0;
  for (int i = 0; i < kBlock; ++i) {
    sum1 += block.q1[i];
    sum23 += 128 * block.q2[i] + block.q3[i];
  }
  set_block_sums(block, sum1, sum23);
}

// A block with a NaN or an infinity gets d = NaN and zero slices, so that its products are NaN
// on every path.
void set_non_finite(SlicedBlock& block) {
  std::memset(block.q1, 0, sizeof(block.q1) * 3);
  block.d = std::numeric_limits<float>::quiet_NaN();
}

void slice_row_scalar(const float* x, int64_t cols, SlicedBlock* out) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* v = x + b * kBlock;
    SlicedBlock& block = out[b];
    float amax = 0.0f;
    bool finite = true;
    for (int i = 0; i < kBlock; ++i) {
      finite = finite && std::isfinite(v[i]);
      amax = std::max(amax, std::fabs(v[i]));
    }
    if (!finite) {
      set_non_finite(block);
      finish_block(block);
      continue;
    }
    block.d = amax / 127.0f;
    const float inverse = block.d >= kMinScale ? 1.0f / block.d : 0.0f;
    const float d2 = block.d * (1.0f / 128.0f);
    for (int i = 0; i < kBlock; ++i) {
      const int8_t q1 = slice_code(v[i] * inverse);
      const float r1 = std::fma(-static_cast<float>(q1), block.d, v[i]);
      const int8_t q2 = slice_code(r1 * (inverse * 128.0f));
      const float r2 = std::fma(-static_cast<float>(q2), d2, r1);
      block.q1[i] = q1;
      block.q2[i] = q2;
      block.q3[i] = slice_code(r2 * (inverse * 16384.0f));
    }
    finish_block(block);
  }
}

#define VLLM_VNNI_TARGET \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma,f16c")))

// A 4 x 4 transpose of 32-bit lanes: lane 4j + c takes lane 4c + j.
VLLM_VNNI_TARGET inline __m512i transposed_4x4() {
  return _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

// Lane i of the result: op over the lanes of v[i], i < n; the other lanes are zero, and so
// are v[n..16) afterwards. Below 5 vectors, reducing each on its own takes fewer steps than
// the transposed tree.
template <typename Op>
VLLM_VNNI_TARGET __attribute__((always_inline)) inline __m512 reduce_blocks(__m512* v, int n,
                                                                            Op op) {
  if (n >= 5) {
    for (int i = n; i < 16; ++i) v[i] = _mm512_setzero_ps();
    return transpose_reduce16(v, op);
  }
  __m512 out = _mm512_setzero_ps();
  for (int i = 0; i < n; ++i) {
    out = _mm512_mask_mov_ps(out, static_cast<__mmask16>(1u << i), op.all_lanes(v[i]));
  }
  return out;
}

// Computes the values of slice_row_scalar, 16 blocks at a time. The maxima and the integer
// sums are exact in any order, and each product rounds once, as there. The codes need no
// clamp, because |x / d| <= 127 and each residual is at most half a step (|q2|, |q3| <= 64),
// so the saturating packs never saturate. A group of blocks with a NaN or an infinity goes to
// slice_row_scalar. One thread slices a block in 13-14 ns, against 17-19 ns with three
// single-vector reductions per block (576 and 1536 columns).
VLLM_VNNI_TARGET void slice_row_avx512(const float* x, int64_t cols, SlicedBlock* out) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512i order = transposed_4x4();
  const int64_t num_blocks = cols / kBlock;
  for (int64_t b0 = 0; b0 < num_blocks; b0 += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, num_blocks - b0));
    __m512 block_max[16];  // lane-wise |x| maxima of each block's two halves
    __m512 poison = zero;  // NaN in some lane if any value is a NaN or an infinity
    for (int i = 0; i < n; ++i) {
      const __m512 v0 = _mm512_loadu_ps(x + (b0 + i) * kBlock);
      const __m512 v1 = _mm512_loadu_ps(x + (b0 + i) * kBlock + 16);
      poison = _mm512_fmadd_ps(v1, zero, _mm512_fmadd_ps(v0, zero, poison));
      block_max[i] = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
    }
    if (_mm512_cmp_ps_mask(poison, zero, _CMP_EQ_OQ) != 0xFFFF) {
      slice_row_scalar(x + b0 * kBlock, n * kBlock, out + b0);
      continue;
    }
    const __m512 amax = reduce_blocks(block_max, n, MaxFloatOp{});
    // Per block, read back as broadcasts by the slicing loop.
    alignas(64) float d[16], d2[16], inverse[16], inverse2[16], inverse3[16];
    const __m512 d_all = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    const __mmask16 usable = _mm512_cmp_ps_mask(d_all, _mm512_set1_ps(kMinScale), _CMP_GE_OQ);
    const __m512 inverse_all = _mm512_maskz_div_ps(usable, _mm512_set1_ps(1.0f), d_all);
    _mm512_store_ps(d, d_all);
    _mm512_store_ps(d2, _mm512_mul_ps(d_all, _mm512_set1_ps(1.0f / 128.0f)));
    _mm512_store_ps(inverse, inverse_all);
    _mm512_store_ps(inverse2, _mm512_mul_ps(inverse_all, _mm512_set1_ps(128.0f)));
    _mm512_store_ps(inverse3, _mm512_mul_ps(inverse_all, _mm512_set1_ps(16384.0f)));

    __m512 sum1[16], sum23[16];  // int32 lanes, viewed as float for the reduction
    for (int i = 0; i < n; ++i) {
      const float* v = x + (b0 + i) * kBlock;
      __m512i q1[2], q2[2], q3[2];
      for (int h = 0; h < 2; ++h) {
        const __m512 x16 = _mm512_loadu_ps(v + 16 * h);
        q1[h] = _mm512_cvtps_epi32(_mm512_mul_ps(x16, _mm512_set1_ps(inverse[i])));
        const __m512 r1 = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(q1[h]), _mm512_set1_ps(d[i]), x16);
        q2[h] = _mm512_cvtps_epi32(_mm512_mul_ps(r1, _mm512_set1_ps(inverse2[i])));
        const __m512 r2 = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(q2[h]), _mm512_set1_ps(d2[i]), r1);
        q3[h] = _mm512_cvtps_epi32(_mm512_mul_ps(r2, _mm512_set1_ps(inverse3[i])));
      }
      // The packs interleave 4-element groups by 128-bit lane. A 4 x 4 transpose restores the
      // element order: q1 then q2 in one 64-byte vector, q3 in the low half of another.
      const __m512i q12 = _mm512_packs_epi16(_mm512_packs_epi32(q1[0], q1[1]),
                                             _mm512_packs_epi32(q2[0], q2[1]));
      const __m512i q33 = _mm512_packs_epi16(_mm512_packs_epi32(q3[0], q3[1]),
                                             _mm512_packs_epi32(q3[0], q3[1]));
      SlicedBlock& block = out[b0 + i];
      _mm512_store_si512(block.q1, _mm512_permutexvar_epi32(order, q12));
      _mm256_store_si256(reinterpret_cast<__m256i*>(block.q3),
                         _mm512_castsi512_si256(_mm512_permutexvar_epi32(order, q33)));
      sum1[i] = _mm512_castsi512_ps(_mm512_add_epi32(q1[0], q1[1]));
      sum23[i] = _mm512_castsi512_ps(
          _mm512_add_epi32(_mm512_add_epi32(_mm512_slli_epi32(q2[0], 7), q3[0]),
                           _mm512_add_epi32(_mm512_slli_epi32(q2[1], 7), q3[1])));
    }
    const __m512i s1 = _mm512_castps_si512(reduce_blocks(sum1, n, AddInt32Op{}));
    const __m512i s23 = _mm512_castps_si512(reduce_blocks(sum23, n, AddInt32Op{}));
    // The fields that set_block_sums fills, for 16 blocks at once.
    const __m512i s_all = _mm512_add_epi32(_mm512_slli_epi32(s1, 14), s23);
    const __m512 d_joined = _mm512_mul_ps(d_all, _mm512_set1_ps(kSlice3Scale));
    const __m512 block_sum = _mm512_mul_ps(_mm512_cvtepi32_ps(s_all), d_joined);
    alignas(64) float d_joined_of[16], sum_of[16];
    alignas(64) int32_t sum1_of[16], sum23_of[16], sum_all_of[16];
    _mm512_store_ps(d_joined_of, d_joined);
    _mm512_store_ps(sum_of, block_sum);
    _mm512_store_si512(sum1_of, s1);
    _mm512_store_si512(sum23_of, s23);
    _mm512_store_si512(sum_all_of, s_all);
    for (int i = 0; i < n; ++i) {
      SlicedBlock& block = out[b0 + i];
      block.d = d[i];
      block.d_joined = d_joined_of[i];
      block.sum1 = sum1_of[i];
      block.sum23 = sum23_of[i];
      block.sum_all = sum_all_of[i];
      block.sum = sum_of[i];
    }
  }
}

// --- scalar tile -------------------------------------------------------------------------------

// Signed integer code of element i of row l in a group block.
template <GGMLType T>
int32_t weight_code(const uint8_t* group_block, int64_t l, int i) {
  using F = GroupFormat<T>;
  const uint8_t* codes = group_block + F::kCodes;
  if constexpr (T == GGMLType::Q8_0) {
    return static_cast<int32_t>(codes[64 * (i / 4) + 4 * l + i % 4]) - 128;
  } else {
    const int j = (i % 16) / 4;
    const uint8_t byte = codes[64 * j + 4 * l + i % 4];
    int32_t code = i < 16 ? (byte & 0x0F) : (byte >> 4);
    if constexpr (T == GGMLType::Q5_0) {
      const uint32_t arranged = load_u32(group_block + 32 + 4 * l);
      const uint32_t bits = (arranged >> (8 * j)) >> (i < 16 ? 0 : 4);
      code |= static_cast<int32_t>((bits >> (i % 4)) & 1) << 4;
    }
    return code - F::kOffset;
  }
}

template <GGMLType T>
void tile_scalar(int mt, const SlicedBlock* x, int64_t x_stride, const uint8_t* group,
                 int64_t num_blocks, float* y, int64_t y_stride) {
  for (int t = 0; t < mt; ++t) {
    for (int64_t l = 0; l < kGroupRows; ++l) {
      float acc = 0.0f;
      for (int64_t b = 0; b < num_blocks; ++b) {
        const uint8_t* block = group + b * group_block_bytes<T>();
        const SlicedBlock& a = x[t * x_stride + b];
        int32_t s1 = 0, s23 = 0;
        for (int i = 0; i < kBlock; ++i) {
          const int32_t w = weight_code<T>(block, l, i);
          s1 += w * a.q1[i];
          s23 += w * (128 * a.q2[i] + a.q3[i]);
        }
        const float dw = half_to_float(static_cast<uint16_t>(block[2 * l] | block[2 * l + 1] << 8));
        if constexpr (T == GGMLType::Q8_0) {
          const float sum = std::fma(static_cast<float>(s23), kSlice3Scale, static_cast<float>(s1));
          acc = std::fma(sum, dw * a.d, acc);
        } else {
          acc = std::fma(static_cast<float>(16384 * s1 + s23), dw * a.d_joined, acc);
        }
        if constexpr (T == GGMLType::Q4_1) {
          const float m = half_to_float(static_cast<uint16_t>(block[32 + 2 * l] | block[33 + 2 * l] << 8));
          acc = std::fma(m, a.sum, acc);
        }
      }
      y[t * y_stride + l] = acc;
    }
  }
}

// 6-bit scale and minimum of sub-block s of a Q4_K super-block, as ggml packs them.
void q4k_scale_min(const uint8_t* scales, int s, int32_t* scale, int32_t* min) {
  if (s < 4) {
    *scale = scales[s] & 63;
    *min = scales[s + 4] & 63;
  } else {
    *scale = (scales[s + 4] & 0x0F) | ((scales[s - 4] >> 6) << 4);
    *min = (scales[s + 4] >> 4) | ((scales[s] >> 6) << 4);
  }
}

// Q4_K: per 32-element sub-block, the steps of the file comment with d_w = d sc_s and
// m_w = -dmin m_s.
void tile_scalar_q4k(int mt, const SlicedBlock* x, int64_t x_stride, const uint8_t* group,
                     int64_t num_blocks, float* y, int64_t y_stride) {
  constexpr int64_t kBytes = group_block_bytes<GGMLType::Q4_K>();
  for (int t = 0; t < mt; ++t) {
    for (int64_t l = 0; l < kGroupRows; ++l) {
      float acc = 0.0f;
      for (int64_t b = 0; b < num_blocks; ++b) {
        uint8_t block[GroupFormat<GGMLType::Q4_K>::kFileBytes];
        unpack_file_block<GGMLType::Q4_K>(group + b * kBytes, l, block);
        const float d = half_to_float(static_cast<uint16_t>(block[0] | block[1] << 8));
        const float dmin = half_to_float(static_cast<uint16_t>(block[2] | block[3] << 8));
        for (int sub = 0; sub < 8; ++sub) {
          const SlicedBlock& a = x[t * x_stride + 8 * b + sub];
          const uint8_t* qs = block + 16 + 32 * (sub / 2);
          int32_t s1 = 0, s23 = 0;
          for (int i = 0; i < kBlock; ++i) {
            const int32_t w = sub % 2 == 0 ? (qs[i] & 0x0F) : (qs[i] >> 4);
            s1 += w * a.q1[i];
            s23 += w * (128 * a.q2[i] + a.q3[i]);
          }
          int32_t scale, min;
          q4k_scale_min(block + 4, sub, &scale, &min);
          acc = std::fma(static_cast<float>(16384 * s1 + s23),
                         d * static_cast<float>(scale) * a.d_joined, acc);
          acc = std::fma(-(dmin * static_cast<float>(min)), a.sum, acc);
        }
      }
      y[t * y_stride + l] = acc;
    }
  }
}

// --- AVX-512 VNNI tile ---------------------------------------------------------------------------

// The 8 operand vectors of a group block: vector j holds elements 4j..4j+3 of the 16 rows,
// as unsigned bytes.
template <GGMLType T>
VLLM_VNNI_TARGET inline void load_codes(const uint8_t* block, __m512i* w) {
  const uint8_t* codes = block + GroupFormat<T>::kCodes;
  if constexpr (T == GGMLType::Q8_0) {
    for (int j = 0; j < 8; ++j) w[j] = _mm512_loadu_si512(codes + 64 * j);
  } else {
    const __m512i mask = _mm512_set1_epi8(0x0F);
    __m512i arranged;
    if constexpr (T == GGMLType::Q5_0) arranged = _mm512_loadu_si512(block + 32);
    for (int j = 0; j < 4; ++j) {
      const __m512i bytes = _mm512_loadu_si512(codes + 64 * j);
      w[j] = _mm512_and_si512(bytes, mask);
      w[j + 4] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), mask);
      if constexpr (T == GGMLType::Q5_0) {
        // Byte j of each lane is copied to the lane's 4 bytes, so that byte i tests bit i (low
        // nibbles) and bit 4 + i (high nibbles). vpshufb indexes within 128 bits, where lane
        // p's byte j is byte 4p + j.
        const __m512i index = _mm512_add_epi8(
            _mm512_set1_epi32(0x01010101 * j),
            _mm512_set4_epi32(0x0C0C0C0C, 0x08080808, 0x04040404, 0x00000000));
        const __m512i spread = _mm512_shuffle_epi8(arranged, index);
        const __mmask64 lo = _mm512_test_epi8_mask(spread, _mm512_set1_epi32(0x08040201));
        const __mmask64 hi = _mm512_test_epi8_mask(spread, _mm512_set1_epi32(0x80402010));
        const __m512i bit4 = _mm512_set1_epi8(0x10);
        w[j] = _mm512_mask_add_epi8(w[j], lo, w[j], bit4);
        w[j + 4] = _mm512_mask_add_epi8(w[j + 4], hi, w[j + 4], bit4);
      }
    }
  }
}

// acc += vpdpbusd(w, the 4 bytes at q in every lane), with the bytes as the instruction's
// broadcast memory operand: GCC 12 otherwise loads them with a separate vpbroadcastd.
VLLM_VNNI_TARGET inline void dpbusd_broadcast(__m512i& acc, __m512i w, const int8_t* q) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*reinterpret_cast<const int32_t*>(q)));
}

// Returns 16384 S1 + S23 of 4- or 5-bit codes stored with offset kOffset, from the sums s1,
// s2 and s3 of the stored codes with q1, q2 and q3. Every partial sum fits in int32: codes
// below 32 give |16384 s1| <= 16384 * 32 * 31 * 127 < 2^31 - 2^26.
// `a` is the token's SlicedBlock, or with kOffset 0 an AmxTokenScalars, which has no
// integer sums.
template <int32_t kOffset, typename Scalars>
VLLM_VNNI_TARGET __attribute__((always_inline)) inline __m512i joined_sum(const Scalars& a,
                                                                         __m512i s1, __m512i s2,
                                                                         __m512i s3) {
  __m512i sum = _mm512_add_epi32(_mm512_slli_epi32(s1, 14), _mm512_slli_epi32(s2, 7));
  sum = _mm512_add_epi32(sum, s3);
  if constexpr (kOffset != 0) sum = _mm512_sub_epi32(sum, _mm512_set1_epi32(kOffset * a.sum_all));
  return sum;
}

// acc += the token's block of products with 16 rows, for the 4- and 5-bit types, from the
// joined sum 16384 S1 + S23 of each row (without offset terms) and the row scales dw. Q4_1
// adds its minimums mw times the activation sum, and Q4_K (a sub-block, with dw = d sc_s and
// mw = dmin m_s) subtracts them.
template <GGMLType T, typename Scalars>
VLLM_VNNI_TARGET __attribute__((always_inline)) inline void add_joined_products(
    const Scalars& a, __m512i joined, __m512 dw, __m512 mw, __m512& acc) {
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(joined), _mm512_mul_ps(dw, _mm512_set1_ps(a.d_joined)),
                        acc);
  if constexpr (T == GGMLType::Q4_1) acc = _mm512_fmadd_ps(mw, _mm512_set1_ps(a.sum), acc);
  if constexpr (T == GGMLType::Q4_K) acc = _mm512_fnmadd_ps(mw, _mm512_set1_ps(a.sum), acc);
}

// acc += the token's block of products with 16 rows, from its integer sums with the slices:
// s1 with q1, s2 with q2, s3 with q3, the row scales dw and, for Q4_1, the minimums mw.
// kOffset is the offset of the codes in the sums: the stored offset on the VNNI path, and
// 0 on the AMX tiles, which multiply signed codes.
template <GGMLType T, int32_t kOffset = GroupFormat<T>::kOffset, typename Scalars>
VLLM_VNNI_TARGET __attribute__((always_inline)) inline void add_block_products(
    const Scalars& a, __m512i s1, __m512i s2, __m512i s3, __m512 dw, __m512 mw,
    __m512& acc) {
  if constexpr (T == GGMLType::Q8_0) {
    __m512i s23 = _mm512_add_epi32(_mm512_slli_epi32(s2, 7), s3);
    if constexpr (kOffset != 0) {
      s1 = _mm512_add_epi32(s1, _mm512_set1_epi32(-kOffset * a.sum1));
      s23 = _mm512_add_epi32(s23, _mm512_set1_epi32(-kOffset * a.sum23));
    }
    const __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), _mm512_set1_ps(kSlice3Scale),
                                       _mm512_cvtepi32_ps(s1));
    acc = _mm512_fmadd_ps(sum, _mm512_mul_ps(dw, _mm512_set1_ps(a.d)), acc);
  } else {
    add_joined_products<T>(a, joined_sum<kOffset>(a, s1, s2, s3), dw, mw, acc);
  }
}

template <GGMLType T, int MT>
VLLM_VNNI_TARGET void tile_vnni(const SlicedBlock* x, int64_t x_stride, const uint8_t* group,
                                int64_t num_blocks, float* y, int64_t y_stride) {
  __m512 acc[MT];
  for (int t = 0; t < MT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* block = group + b * group_block_bytes<T>();
    // No software prefetch: a group's blocks are one contiguous stream on huge pages, which
    // the hardware prefetcher follows. Prefetching 8 KiB ahead into L2, as the float kernels
    // do, made single-token decode 5-20% slower.
    __m512i w[8];
    load_codes<T>(block, w);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
    __m512 mw = _mm512_setzero_ps();
    if constexpr (T == GGMLType::Q4_1) {
      mw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32)));
    }
    // Each token's 3 integer sums are chains of 8 dot products. Q8_0 and the 4-bit types
    // interleave the tokens' chains, which fills the instruction's latency (Q8_0's product
    // 2.7% faster). Q5_0 needs more registers for its high bits and runs them token by
    // token, which measured 3.6% faster for it.
    if constexpr (T == GGMLType::Q5_0) {
      for (int t = 0; t < MT; ++t) {
        const SlicedBlock& a = x[t * x_stride + b];
        __m512i s1 = _mm512_setzero_si512();
        __m512i s2 = _mm512_setzero_si512();
        __m512i s3 = _mm512_setzero_si512();
        for (int j = 0; j < 8; ++j) {
          dpbusd_broadcast(s1, w[j], a.q1 + 4 * j);
          dpbusd_broadcast(s2, w[j], a.q2 + 4 * j);
          dpbusd_broadcast(s3, w[j], a.q3 + 4 * j);
        }
        add_block_products<T>(a, s1, s2, s3, dw, mw, acc[t]);
      }
    } else {
      __m512i s1[MT], s2[MT], s3[MT];
      for (int t = 0; t < MT; ++t) {
        s1[t] = _mm512_setzero_si512();
        s2[t] = _mm512_setzero_si512();
        s3[t] = _mm512_setzero_si512();
      }
      for (int j = 0; j < 8; ++j) {
        for (int t = 0; t < MT; ++t) {
          const SlicedBlock& a = x[t * x_stride + b];
          dpbusd_broadcast(s1[t], w[j], a.q1 + 4 * j);
          dpbusd_broadcast(s2[t], w[j], a.q2 + 4 * j);
          dpbusd_broadcast(s3[t], w[j], a.q3 + 4 * j);
        }
      }
      for (int t = 0; t < MT; ++t) {
        add_block_products<T>(x[t * x_stride + b], s1[t], s2[t], s3[t], dw, mw, acc[t]);
      }
    }
  }
  for (int t = 0; t < MT; ++t) _mm512_storeu_ps(y + t * y_stride, acc[t]);
}

// The scale d sc_s and minimum dmin m_s of sub-block `sub` for the 16 rows of a Q4_K group
// block, from its d, dmin and 3 scale vectors, with the shifts of q4k_scale_min.
VLLM_VNNI_TARGET __attribute__((always_inline)) inline void q4k_sub_block_scales(
    const uint8_t* block, int sub, __m512* scale, __m512* min) {
  const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
  const __m512 dmin =
      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32)));
  const __m512i v0 = _mm512_loadu_si512(block + 64);
  const __m512i v1 = _mm512_loadu_si512(block + 128);
  const __m512i v2 = _mm512_loadu_si512(block + 192);
  const __m512i low6 = _mm512_set1_epi32(63);
  const __m512i low4 = _mm512_set1_epi32(0x0F);
  const __m512i low2 = _mm512_set1_epi32(3);
  __m512i scale_code, min_code;
  if (sub < 4) {
    scale_code = _mm512_and_si512(_mm512_srli_epi32(v0, 8 * sub), low6);
    min_code = _mm512_and_si512(_mm512_srli_epi32(v1, 8 * sub), low6);
  } else {
    const int k = sub - 4;
    scale_code = _mm512_or_si512(
        _mm512_and_si512(_mm512_srli_epi32(v2, 8 * k), low4),
        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(v0, 8 * k + 6), low2), 4));
    min_code = _mm512_or_si512(
        _mm512_and_si512(_mm512_srli_epi32(v2, 8 * k + 4), low4),
        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(v1, 8 * k + 6), low2), 4));
  }
  *scale = _mm512_mul_ps(d, _mm512_cvtepi32_ps(scale_code));
  *min = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(min_code));
}

// Q4_K on VNNI: the sub-blocks' scales and minimums are unpacked for 16 rows at once from
// the 3 scale vectors (q4k_sub_block_scales).
template <int MT>
VLLM_VNNI_TARGET void tile_vnni_q4k(const SlicedBlock* x, int64_t x_stride, const uint8_t* group,
                                    int64_t num_blocks, float* y, int64_t y_stride) {
  __m512 acc[MT];
  for (int t = 0; t < MT; ++t) acc[t] = _mm512_setzero_ps();
  const __m512i nibble_mask = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* block = group + b * group_block_bytes<GGMLType::Q4_K>();
    for (int pair = 0; pair < 4; ++pair) {
      __m512i w[2][8];
      for (int i = 0; i < 8; ++i) {
        const __m512i bytes = _mm512_loadu_si512(
            block + GroupFormat<GGMLType::Q4_K>::kCodes + 64 * (8 * pair + i));
        w[0][i] = _mm512_and_si512(bytes, nibble_mask);
        w[1][i] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), nibble_mask);
      }
      for (int half = 0; half < 2; ++half) {
        const int sub = 2 * pair + half;
        __m512 scale, min;
        q4k_sub_block_scales(block, sub, &scale, &min);
        for (int t = 0; t < MT; ++t) {
          const SlicedBlock& a = x[t * x_stride + 8 * b + sub];
          __m512i s1 = _mm512_setzero_si512();
          __m512i s2 = _mm512_setzero_si512();
          __m512i s3 = _mm512_setzero_si512();
          for (int i = 0; i < 8; ++i) {
            dpbusd_broadcast(s1, w[half][i], a.q1 + 4 * i);
            dpbusd_broadcast(s2, w[half][i], a.q2 + 4 * i);
            dpbusd_broadcast(s3, w[half][i], a.q3 + 4 * i);
          }
          add_joined_products<GGMLType::Q4_K>(a, joined_sum<0>(a, s1, s2, s3), scale, min,
                                              acc[t]);
        }
      }
    }
  }
  for (int t = 0; t < MT; ++t) _mm512_storeu_ps(y + t * y_stride, acc[t]);
}

using TileFn = void (*)(const SlicedBlock*, int64_t, const uint8_t*, int64_t, float*, int64_t);

template <GGMLType T>
const TileFn* vnni_tiles() {
  if constexpr (T == GGMLType::Q4_K) {
    static const TileFn tiles[kTokenBlock] = {&tile_vnni_q4k<1>, &tile_vnni_q4k<2>,
                                              &tile_vnni_q4k<3>, &tile_vnni_q4k<4>};
    return tiles;
  } else {
    static const TileFn tiles[kTokenBlock] = {&tile_vnni<T, 1>, &tile_vnni<T, 2>,
                                              &tile_vnni<T, 3>, &tile_vnni<T, 4>};
    return tiles;
  }
}

// --- AMX tile ----------------------------------------------------------------------------------
//
// 16 tokens on one group with AMX-INT8. The group block's signed codes w, the vectors of
// load_codes in their order less the stored offset, are the B operand: rows of 16 lanes x
// 4 bytes. tdpbssd then gives integer sums for 16 tokens x 16 rows that equal the VNNI
// tiles' sums after their offset terms. The VNNI tiles' epilogue turns them into floats in
// the same order, so a token's outputs keep the bits of the VNNI tiles.
//
// Q8_0: per block, the tokens' three slices are three A operands (16 tokens x 32 bytes), and
// three tdpbssd give S1, S2 and S3.
//
// The 4- and 5-bit types need only the joined sum, sum_i w_i X_i with X = 16384 q1 + 128 q2 +
// q3 (|X| < 2^21), and their codes leave room for a factor of 8 (8 w in [-128, 120]). Per
// element, X = 2048 H + L with H = floor((X + 1024) / 2048) (|H| <= 1020) and L in [-1024,
// 1023], and each part v in {H, L} is a + 8 b with b = floor((v + 4) / 8) held to [-127,
// 127] and |a| <= 8. An A row contains a then b (64 bytes), and the B operand contains w in
// rows 0-7 and 8 w in rows 8-15. So one tdpbssd with K = 64 gives S_v = sum_i w_i v_i, and
// 2048 S_H + S_L is the joined sum, exact in int32. A tdpbssd with K = 64 takes as long as
// one with K = 32, so two instructions and two tile stores replace three of each, and the
// epilogue joins two sums rather than three.

#define VLLM_AMX_TARGET                                                                       \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma,f16c,amx-tile,"      \
                        "amx-int8")))

constexpr int kAmxTokens = 16;  // tokens per AMX tile, one per row of the A operand
constexpr int kPairFactor = 8;  // the factor of b in a + 8 b (see above)
constexpr int kPairShift = 11;  // X = 2^11 H + L

// The SlicedBlock fields the AMX epilogues read, for the 16 tokens of a tile.
struct AmxTokenFields {
  float d[kAmxTokens];
  float d_joined[kAmxTokens];
  float sum[kAmxTokens];
  int32_t sum_all[kAmxTokens];  // sums for the greedy pass, whose codes keep their offset
};

// One block of the 16 tokens of a tile, built once per product call: the A operands, and the
// token fields, side by side. The A operands then load as contiguous bytes rather than as 16
// rows a SlicedBlock row apart. The fields reach the epilogue as broadcasts from one base
// address, because 16 token addresses did not fit in the general registers.
struct alignas(64) AmxSliceOperands {      // Q8_0's
  int8_t slices[3][kAmxTokens][kBlock];    // [slice, token, element]
  AmxTokenFields fields;
};
struct alignas(64) AmxPairOperands {       // the other types'
  int8_t pairs[2][kAmxTokens][2 * kBlock];  // [H or L, token, a then b]
  AmxTokenFields fields;
};

// The AMX operands of a product call, [num_tokens / 16, num_slices] each: null where the call
// has no weights of that kind, or both null when the AMX tiles are off or no tile is full.
struct AmxOperands {
  const AmxSliceOperands* slices = nullptr;
  const AmxPairOperands* pairs = nullptr;
};

// The A operands a product call needs: slices for Q8_0 weights, pairs for the others.
struct AmxOperandKinds {
  bool slices = false;
  bool pairs = false;
};

// Token t's view of an AmxTokenFields for the epilogues, with the field names of
// SlicedBlock. It has no integer sums: the AMX tiles' signed codes need no offset terms.
struct AmxTokenScalars {
  const float& d;
  const float& d_joined;
  const float& sum;
};

inline AmxTokenScalars token_scalars(const AmxTokenFields& s, int t) {
  return {s.d[t], s.d_joined[t], s.sum[t]};
}

void set_token_fields(const SlicedBlock& a, int t, AmxTokenFields& fields) {
  fields.d[t] = a.d;
  fields.d_joined[t] = a.d_joined;
  fields.sum[t] = a.sum;
  fields.sum_all[t] = a.sum_all;
}

// Writes the pair rows of a (see above): a then b of H to h_row, of L to l_row (64 bytes
// each).
VLLM_VNNI_TARGET void write_pair_rows(const SlicedBlock& a, int8_t* h_row, int8_t* l_row) {
  static_assert(kPairFactor == 8 && kPairShift == 11);
  const __m512i half_h = _mm512_set1_epi32(1 << (kPairShift - 1));
  const __m512i half_b = _mm512_set1_epi32(kPairFactor / 2);
  const __m512i b_max = _mm512_set1_epi32(127);
  const __m512i b_min = _mm512_set1_epi32(-127);
  // Stores v as a then b at row + 16 h and row + 32 + 16 h.
  const auto write_part = [&](__m512i v, int8_t* row, int h) VLLM_VNNI_TARGET {
    __m512i b = _mm512_srai_epi32(_mm512_add_epi32(v, half_b), 3);
    b = _mm512_min_epi32(_mm512_max_epi32(b, b_min), b_max);
    const __m512i low = _mm512_sub_epi32(v, _mm512_slli_epi32(b, 3));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 16 * h), _mm512_cvtepi32_epi8(low));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(row + kBlock + 16 * h), _mm512_cvtepi32_epi8(b));
  };
  for (int h = 0; h < 2; ++h) {
    const auto widen = [&](const int8_t* q) VLLM_VNNI_TARGET {
      return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * h)));
    };
    const __m512i x = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_slli_epi32(widen(a.q1), 14), _mm512_slli_epi32(widen(a.q2), 7)),
        widen(a.q3));
    const __m512i high = _mm512_srai_epi32(_mm512_add_epi32(x, half_h), kPairShift);
    write_part(high, h_row, h);
    write_part(_mm512_sub_epi32(x, _mm512_slli_epi32(high, kPairShift)), l_row, h);
  }
}

// The AMX operands of `kinds` for the first num_tokens / 16 tiles of xs ([num_tokens,
// num_slices]), built on the compute threads into buffers of the calling thread, valid until
// its next call.
AmxOperands gather_amx_operands(const SlicedBlock* xs, int64_t num_tokens, int64_t num_slices,
                                AmxOperandKinds kinds) {
  const int64_t num_tiles = num_tokens / kAmxTokens;
  if (active_isa() < CpuIsa::kAvx512Amx || num_tiles == 0) return {};
  const size_t count = static_cast<size_t>(num_tiles * num_slices);
  static thread_local std::vector<AmxSliceOperands> slice_operands;
  static thread_local std::vector<AmxPairOperands> pair_operands;
  if (kinds.slices && slice_operands.size() < count) slice_operands.resize(count);
  if (kinds.pairs && pair_operands.size() < count) pair_operands.resize(count);
  AmxSliceOperands* slices = kinds.slices ? slice_operands.data() : nullptr;
  AmxPairOperands* pairs = kinds.pairs ? pair_operands.data() : nullptr;
  parallel_for(num_tiles * num_slices, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; ++i) {
      const int64_t tile = i / num_slices, b = i % num_slices;
      for (int t = 0; t < kAmxTokens; ++t) {
        const SlicedBlock& a = xs[(tile * kAmxTokens + t) * num_slices + b];
        if (slices != nullptr) {
          std::memcpy(slices[i].slices[0][t], a.q1, kBlock);
          std::memcpy(slices[i].slices[1][t], a.q2, kBlock);
          std::memcpy(slices[i].slices[2][t], a.q3, kBlock);
          set_token_fields(a, t, slices[i].fields);
        }
        if (pairs != nullptr) {
          write_pair_rows(a, pairs[i].pairs[0][t], pairs[i].pairs[1][t]);
          set_token_fields(a, t, pairs[i].fields);
        }
      }
    }
  });
  return {slices, pairs};
}

// Palette 1 as ldtilecfg reads it: bytes per row and rows of each tile register.
struct alignas(64) AmxTileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-2 contain the sums ([16 tokens, 16 rows] int32). With slices, tiles 3-5 contain the
// slices ([16 tokens, 32] int8) and tile 6 the codes ([8, 16 rows x 4] bytes). With pairs,
// tiles 3-4 contain the pairs ([16 tokens, 64] int8) and tile 6 the codes and 8 times the
// codes ([16, 16 rows x 4] bytes). The configuration belongs to the calling thread until
// amx_end.
VLLM_AMX_TARGET void amx_begin(bool pairs) {
  AmxTileConfig config;
  for (int i = 0; i < 3; ++i) {
    config.colsb[i] = 64;
    config.rows[i] = kAmxTokens;
  }
  for (int i = 3; i < (pairs ? 5 : 6); ++i) {
    config.colsb[i] = pairs ? 2 * kBlock : kBlock;
    config.rows[i] = kAmxTokens;
  }
  config.colsb[6] = 64;
  config.rows[6] = pairs ? 2 * kBlock / 4 : kBlock / 4;
  // Not _tile_loadconfig: GCC 12's version names only the first 8 bytes as its memory
  // operand, so the compiler drops the stores of the tile shapes, and the first tile
  // instruction faults (SIGILL).
  asm volatile("ldtilecfg %0" : : "m"(config));
}

// Returns the tile state to its initial state, so that context switches stop saving it.
VLLM_AMX_TARGET void amx_end() { _tile_release(); }

// Loads the B operand at `codes` into tile 6 and writes its sums with the first kSlices
// slices (2 or 3) of one block of 16 tokens: sums[s][t][l] for slice s, token t and row l.
// The codes are signed bytes (tdpbssd) with kSignedCodes, unsigned ones (tdpbsud) without.
template <int kSlices, bool kSignedCodes>
VLLM_AMX_TARGET __attribute__((always_inline)) inline void amx_block_sums(
    const uint8_t* codes, const AmxSliceOperands& block, int32_t (*sums)[kAmxTokens][16]) {
  static_assert(kSlices == 2 || kSlices == 3);
  // Tile numbers must be literals, so the choice of instruction is a macro.
#define VLLM_AMX_DOT(c, a)                 \
  if constexpr (kSignedCodes) {            \
    _tile_dpbssd(c, a, 6);                 \
  } else {                                 \
    _tile_dpbsud(c, a, 6);                 \
  }
  _tile_loadd(6, codes, 64);
  _tile_loadd(3, block.slices[0], kBlock);
  _tile_loadd(4, block.slices[1], kBlock);
  _tile_zero(0);
  _tile_zero(1);
  VLLM_AMX_DOT(0, 3)
  VLLM_AMX_DOT(1, 4)
  if constexpr (kSlices == 3) {
    _tile_loadd(5, block.slices[2], kBlock);
    _tile_zero(2);
    VLLM_AMX_DOT(2, 5)
  }
#undef VLLM_AMX_DOT
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  if constexpr (kSlices == 3) _tile_stored(2, sums[2], 64);
}

// Loads the B operand at `codes` (w and 8 w) into tile 6 and writes S_H and S_L of one block
// of 16 tokens: sums[p][t][l] for part p (H, L), token t and row l.
VLLM_AMX_TARGET __attribute__((always_inline)) inline void amx_pair_sums(
    const uint8_t* codes, const AmxPairOperands& block, int32_t (*sums)[kAmxTokens][16]) {
  _tile_loadd(6, codes, 64);
  _tile_loadd(3, block.pairs[0], 2 * kBlock);
  _tile_loadd(4, block.pairs[1], 2 * kBlock);
  _tile_zero(0);
  _tile_zero(1);
  _tile_dpbssd(0, 3, 6);
  _tile_dpbssd(1, 4, 6);
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
}

// Bytes of one AMX block's B operand: 8 rows of 16 lanes x 4 codes for Q8_0, 16 rows (the
// codes, then 8 times the codes) for the other types.
template <GGMLType T>
constexpr int64_t amx_code_bytes() {
  return T == GGMLType::Q8_0 ? 8 * 64 : 16 * 64;
}

// AMX blocks (32-element blocks, or Q4_K sub-blocks) in one group block of type T.
template <GGMLType T>
constexpr int64_t amx_blocks_per_group_block() {
  return GroupFormat<T>::kElements / kBlock;
}

// Writes the codes w (8 vectors) to out, then 8 w (8 more) for every type except Q8_0.
// Shifted as 16-bit words, each byte takes the top 3 bits of the byte below it into its low
// bits, which the mask clears.
template <GGMLType T>
VLLM_AMX_TARGET __attribute__((always_inline)) inline void store_amx_codes(const __m512i* w,
                                                                          uint8_t* out) {
  for (int j = 0; j < 8; ++j) _mm512_storeu_si512(out + 64 * j, w[j]);
  if constexpr (T != GGMLType::Q8_0) {
    static_assert(kPairFactor == 8);
    const __m512i mask = _mm512_set1_epi8(static_cast<char>(0xF8));
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_si512(out + 64 * (8 + j), _mm512_and_si512(_mm512_slli_epi16(w[j], 3), mask));
    }
  }
}

// Writes the B operands of a group's num_blocks group blocks to codes ([num_blocks x
// amx_blocks_per_group_block, amx_code_bytes] bytes): the signed codes w, which tdpbssd
// multiplies without the stored offset, so that the epilogue has no offset term (Q8_0's took
// 4 of its 11 vector operations per token). They are unpacked once per group and token chunk
// rather than once per tile: a tile load of codes that vector stores have just written waits
// for the stores to reach the cache.
template <GGMLType T>
VLLM_AMX_TARGET void unpack_group_codes(const uint8_t* group, int64_t num_blocks, uint8_t* codes) {
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* block = group + b * group_block_bytes<T>();
    __m512i w[8];
    if constexpr (T == GGMLType::Q4_K) {
      const __m512i nibble_mask = _mm512_set1_epi8(0x0F);
      for (int sub = 0; sub < 8; ++sub) {
        for (int i = 0; i < 8; ++i) {
          const __m512i bytes = _mm512_loadu_si512(
              block + GroupFormat<GGMLType::Q4_K>::kCodes + 64 * (8 * (sub / 2) + i));
          const __m512i shifted = sub % 2 == 0 ? bytes : _mm512_srli_epi16(bytes, 4);
          w[i] = _mm512_and_si512(shifted, nibble_mask);
        }
        store_amx_codes<T>(w, codes + (8 * b + sub) * amx_code_bytes<T>());
      }
    } else {
      // Stored codes are w + kOffset, so w = stored - kOffset in bytes (Q8_0's 128 wraps).
      load_codes<T>(block, w);
      if constexpr (GroupFormat<T>::kOffset != 0) {
        const __m512i offset = _mm512_set1_epi8(static_cast<char>(GroupFormat<T>::kOffset));
        for (int j = 0; j < 8; ++j) w[j] = _mm512_sub_epi8(w[j], offset);
      }
      store_amx_codes<T>(w, codes + b * amx_code_bytes<T>());
    }
  }
}

// Returns Q8_0's stored codes of AMX block b (w + 128), the B operand of the greedy pass.
const uint8_t* stored_q8_codes(const uint8_t* group, int64_t b) {
  return group + b * group_block_bytes<GGMLType::Q8_0>() + GroupFormat<GGMLType::Q8_0>::kCodes;
}

// Writes y[t, l] for the 16 tokens of one AMX tile and the 16 rows of one group, from the
// group's B operands (codes, see unpack_group_codes). A Q4_K sub-block is one AMX block,
// with the scales, minimums and epilogue of tile_vnni_q4k.
template <GGMLType T, typename Operands>
VLLM_AMX_TARGET void tile_amx(const Operands* operands, const uint8_t* group,
                              const uint8_t* codes, int64_t num_blocks, float* y,
                              int64_t y_stride) {
  constexpr int64_t kSubBlocks = amx_blocks_per_group_block<T>();
  constexpr bool kPairs = T != GGMLType::Q8_0;
  static_assert(std::is_same_v<Operands, AmxPairOperands> == kPairs);
  const int64_t num_amx_blocks = num_blocks * kSubBlocks;
  // [AMX block parity, slice or part, token, row]
  alignas(64) int32_t sums[2][kPairs ? 2 : 3][kAmxTokens][16];
  // The tile unit's sums of AMX block s + 1 are issued before the vector units turn block s's
  // sums into floats. The epilogue reads the other half of `sums`, so nothing orders the two.
  const auto block_sums = [&](int64_t s) VLLM_AMX_TARGET {
    if constexpr (kPairs) {
      amx_pair_sums(codes + s * amx_code_bytes<T>(), operands[s], sums[s & 1]);
    } else {
      amx_block_sums<3, true>(codes + s * amx_code_bytes<T>(), operands[s], sums[s & 1]);
    }
  };
  // The joined sum of token t from its pair sums.
  const auto joined = [&](int64_t s, int t) VLLM_AMX_TARGET {
    return _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(sums[s & 1][0][t]), kPairShift),
                            _mm512_load_si512(sums[s & 1][1][t]));
  };
  block_sums(0);
  __m512 acc[kAmxTokens];  // [token], the group's 16 rows per vector
#pragma GCC unroll 16
  for (int t = 0; t < kAmxTokens; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < num_amx_blocks; ++s) {
    if (s + 1 < num_amx_blocks) block_sums(s + 1);
    const uint8_t* block = group + s / kSubBlocks * group_block_bytes<T>();
    // The rows' scales and minimums (Q4_1 and Q4_K) of this block.
    __m512 dw, mw = _mm512_setzero_ps();
    if constexpr (T == GGMLType::Q4_K) {
      q4k_sub_block_scales(block, static_cast<int>(s % kSubBlocks), &dw, &mw);
    } else {
      dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
      if constexpr (T == GGMLType::Q4_1) {
        mw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32)));
      }
    }
#pragma GCC unroll 16
    for (int t = 0; t < kAmxTokens; ++t) {
      if constexpr (kPairs) {
        add_joined_products<T>(token_scalars(operands[s].fields, t), joined(s, t), dw, mw,
                               acc[t]);
      } else {
        add_block_products<T, 0>(token_scalars(operands[s].fields, t),
                                 _mm512_load_si512(sums[s & 1][0][t]),
                                 _mm512_load_si512(sums[s & 1][1][t]),
                                 _mm512_load_si512(sums[s & 1][2][t]), dw, mw, acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < kAmxTokens; ++t) _mm512_storeu_ps(y + t * y_stride, acc[t]);
}

// Tokens per chunk on the AMX path, whose unpacked codes serve every tile of the chunk:
// 16 tiles of Q8_0 rather than 4 of kTokenChunk, and 8 of the other types, whose operands
// take 144 bytes per token and block against Q8_0's 112. One thread multiplied 256 tokens by a
// Q4_1 1536 x 576 matrix at 253 GFLOP/s in chunks of 128 tokens, 226 in chunks of 256 and
// 241 in chunks of 64. With 576 x 1536 the rates were 217, 211 and 206.
template <GGMLType T>
constexpr int64_t amx_token_chunk() {
  return T == GGMLType::Q8_0 ? 256 : 128;
}

// Tokens per round of linear_row_groups_shared. A round of 256 tokens takes 2.4 MB of
// operands of the pair kind for 2048 columns, and 2.1 MB of sliced activations.
constexpr int64_t kRoundTokens = 256;

// Writes y[t, j] for rows j of groups [first_group, end_group) of `weight`, t < num_tokens,
// from the sliced activations xs ([num_tokens, num_slices]). When amx_operands has operands of
// T's kind, for the first num_tokens / 16 tiles (see gather_amx_operands), those tiles run on
// AMX.
template <GGMLType T>
void multiply_groups(const SlicedBlock* xs, AmxOperands amx_operands,
                     int64_t num_slices, int64_t num_tokens, const WeightMatrix& weight,
                     int64_t first_group, int64_t end_group, float* y) {
  const int64_t rows = weight.rows;
  const int64_t num_blocks = weight.cols / GroupFormat<T>::kElements;  // file blocks per row
  const int64_t group_bytes = kGroupRows * num_blocks * GroupFormat<T>::kFileBytes;
  const bool vnni = active_isa() >= CpuIsa::kAvx512Vnni;
  const auto* operands_of_type = [&] {
    if constexpr (T == GGMLType::Q8_0) {
      return amx_operands.slices;
    } else {
      return amx_operands.pairs;
    }
  }();
  const bool amx = operands_of_type != nullptr;
  const int64_t amx_tokens = num_tokens / kAmxTokens * kAmxTokens;  // tokens in AMX tiles
  // The B operands of one group, unpacked (see unpack_group_codes). This function runs on
  // the pool's workers, so the buffer is each worker's own.
  static thread_local std::vector<uint8_t> codes;
  if (amx) {
    codes.resize(static_cast<size_t>(num_blocks * amx_blocks_per_group_block<T>() *
                                     amx_code_bytes<T>()));
    amx_begin(T != GGMLType::Q8_0);
  }
  const int64_t chunk_tokens = amx ? amx_token_chunk<T>() : kTokenChunk;
  const TileFn* tiles = vnni_tiles<T>();
  for (int64_t chunk = 0; chunk < num_tokens; chunk += chunk_tokens) {
    const int64_t chunk_end = std::min(num_tokens, chunk + chunk_tokens);
    const bool amx_chunk = amx && chunk < amx_tokens;
    for (int64_t g = first_group; g < end_group; ++g) {
      const uint8_t* group = weight.data + g * group_bytes;
      if (amx_chunk) unpack_group_codes<T>(group, num_blocks, codes.data());
      for (int64_t t0 = chunk; t0 < chunk_end;) {
        float* out = y + t0 * rows + g * kGroupRows;
        const SlicedBlock* xt = xs + t0 * num_slices;
        if (amx_chunk && t0 < amx_tokens) {
          tile_amx<T>(operands_of_type + t0 / kAmxTokens * num_slices, group, codes.data(),
                      num_blocks, out, rows);
          t0 += kAmxTokens;
          continue;
        }
        const int mt = static_cast<int>(std::min<int64_t>(kTokenBlock, chunk_end - t0));
        t0 += mt;
        if (vnni) {
          tiles[mt - 1](xt, num_slices, group, num_blocks, out, rows);
        } else if constexpr (T == GGMLType::Q4_K) {
          tile_scalar_q4k(mt, xt, num_slices, group, num_blocks, out, rows);
        } else {
          tile_scalar<T>(mt, xt, num_slices, group, num_blocks, out, rows);
        }
      }
    }
  }
  if (amx) amx_end();
}

void multiply_groups_of_type(const SlicedBlock* xs, AmxOperands amx_operands,
                             int64_t num_slices, int64_t num_tokens, const WeightMatrix& weight,
                             int64_t first_group, int64_t end_group, float* y) {
  const auto run = [&](auto multiply) {
    multiply(xs, amx_operands, num_slices, num_tokens, weight, first_group, end_group, y);
  };
  switch (weight.type) {
    case GGMLType::Q4_0: return run(multiply_groups<GGMLType::Q4_0>);
    case GGMLType::Q4_1: return run(multiply_groups<GGMLType::Q4_1>);
    case GGMLType::Q5_0: return run(multiply_groups<GGMLType::Q5_0>);
    case GGMLType::Q8_0: return run(multiply_groups<GGMLType::Q8_0>);
    case GGMLType::Q4_K: return run(multiply_groups<GGMLType::Q4_K>);
    default: break;
  }
  throw InternalError(fmt::format("linear_row_groups: no row-group layout for ggml type {}",
                                  static_cast<uint32_t>(weight.type)));
}

// Slices x ([num_tokens, cols]) on the compute threads into a buffer of the calling thread,
// valid until its next call: [num_tokens, cols / 32] blocks.
const SlicedBlock* slice_tokens(const float* x, int64_t num_tokens, int64_t cols) {
  const int64_t num_slices = cols / kBlock;
  static thread_local std::vector<SlicedBlock> sliced;
  if (sliced.size() < static_cast<size_t>(num_tokens * num_slices)) {
    sliced.resize(static_cast<size_t>(num_tokens * num_slices));
  }
  SlicedBlock* xs = sliced.data();
  const bool vnni = active_isa() >= CpuIsa::kAvx512Vnni;
  parallel_for(num_tokens, [&](int64_t first_token, int64_t end_token) {
    for (int64_t t = first_token; t < end_token; ++t) {
      if (vnni) {
        slice_row_avx512(x + t * cols, cols, xs + t * num_slices);
      } else {
        slice_row_scalar(x + t * cols, cols, xs + t * num_slices);
      }
    }
  });
  return xs;
}

// --- largest outputs ---------------------------------------------------------------------------
//
// linear_row_groups_max for Q8_0: a first pass uses two slices and bounds its distance to
// the three-slice result, then only the groups that may hold a token's maximum get exact
// products. With u = c + 128 the stored code, the first pass computes per block
//   A = S1 - 128 sum1 + (sum_i u_i q2_i - sum23) / 128,
// and the three-slice value is S1 - 128 sum1 + sum_i c_i (q2_i / 128 + q3_i / 16384), which
// equals A + sum_i u_i q3_i / 16384 (since 128 sum q2 + sum q3 = sum23). With u <= 255 and
// |q3| <= 64, the dropped term is at most 32 * 255 * 64 / 16384 < 32 in size. Times d_w d_x,
// summed over blocks: the two differ by at most 32 sum_b |d_w| d_x before rounding.
//
// Rounding: |A| < 526000 per block. Per block, the two passes round at most five times
// (conversions of integer sums to float, the block sum's multiply-add, the scale product),
// each time by at most 2^-24 * 526000 < 0.0314 of |d_w| d_x, and each pass once into the
// running total, by at most 0.0314 of sum_b |d_w| d_x. With the bound's own fused
// multiply-add, the scale must exceed 31.875 + 0.19 + 0.063 n for n blocks; 33 + n / 8
// leaves a margin. A scale product below float's normal range rounds by up to 2^-150
// instead, 2^-131 after the sums; kMaxBoundSlack adds 2^-100 per block for it.
float max_bound_scale(int64_t num_blocks) { return 33.0f + static_cast<float>(num_blocks) / 8.0f; }
constexpr float kMaxBoundSlack = 0x1p-100f;

// A token's bounds over a group's 16 rows, from the two-slice totals acc (128 A d_w d_x summed
// over blocks) and scales (|d_w| d_x summed), as tile_vnni_q8_two_slices states them.
VLLM_VNNI_TARGET __attribute__((always_inline)) inline void bound_outputs(
    __m512 acc, __m512 scales, int64_t num_blocks, float bound_scale, float* upper,
    float* lower) {
  // In units of 128, like acc. kMaxBoundSlack covers subnormal scale products, whose
  // rounding is absolute rather than relative.
  const __m512 k = _mm512_set1_ps(128.0f * bound_scale);
  const __m512 slack = _mm512_set1_ps(static_cast<float>(num_blocks) * kMaxBoundSlack);
  const __m512 hi = _mm512_add_ps(_mm512_fmadd_ps(scales, k, acc), slack);
  const __m512 lo = _mm512_sub_ps(_mm512_fnmadd_ps(scales, k, acc), slack);
  // The maximum instruction drops a NaN lane, which must reach the second pass.
  const bool any_nan = (_mm512_cmp_ps_mask(hi, hi, _CMP_UNORD_Q) |
                        _mm512_cmp_ps_mask(lo, lo, _CMP_UNORD_Q)) != 0;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  *upper = any_nan ? nan : _mm512_reduce_max_ps(hi);
  *lower = any_nan ? nan : _mm512_reduce_max_ps(lo);
}

// Q8_0 tile on two slices. For each token t of the tile, with V_l the sum over blocks of A d_w
// d_x for row l of the group and S_l that of |d_w| d_x: upper[t] = 128 max_l (V_l + k S_l)
// and lower[t] = 128 max_l (V_l - k S_l), k = bound_scale, both widened by kMaxBoundSlack per
// block, or NaN where any row's value is NaN. A = (128 S1 + S2 - sum_all) / 128 in
// integers, where S1 and S2 are the stored codes' sums with q1 and q2.
template <int MT>
VLLM_VNNI_TARGET void tile_vnni_q8_two_slices(const SlicedBlock* x, int64_t x_stride,
                                              const uint8_t* group, int64_t num_blocks,
                                              float bound_scale, float* upper, float* lower) {
  constexpr GGMLType T = GGMLType::Q8_0;
  __m512 acc[MT], scales[MT];
  for (int t = 0; t < MT; ++t) acc[t] = scales[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* block = group + b * group_block_bytes<T>();
    __m512i w[8];
    load_codes<T>(block, w);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
    const __m512 dw_size = _mm512_abs_ps(dw);
    __m512i s1[MT], s2[MT];
    for (int t = 0; t < MT; ++t) s1[t] = s2[t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      for (int t = 0; t < MT; ++t) {
        const SlicedBlock& a = x[t * x_stride + b];
        dpbusd_broadcast(s1[t], w[j], a.q1 + 4 * j);
        dpbusd_broadcast(s2[t], w[j], a.q2 + 4 * j);
      }
    }
    for (int t = 0; t < MT; ++t) {
      const SlicedBlock& a = x[t * x_stride + b];
      // |128 S1 + S2| < 2^31 for 8-bit codes and |q| <= 127, and the difference is exact.
      const __m512i scaled = _mm512_sub_epi32(
          _mm512_add_epi32(_mm512_slli_epi32(s1[t], 7), s2[t]), _mm512_set1_epi32(a.sum_all));
      // 128 A d_w d_x: the scale is the exact path's d_w d_x, rather than a smaller factor
      // that could fall to a subnormal where the rounding analysis does not hold.
      const __m512 dx = _mm512_set1_ps(a.d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(scaled), _mm512_mul_ps(dw, dx), acc[t]);
      scales[t] = _mm512_fmadd_ps(dw_size, dx, scales[t]);
    }
  }
  for (int t = 0; t < MT; ++t) {
    bound_outputs(acc[t], scales[t], num_blocks, bound_scale, &upper[t], &lower[t]);
  }
}

// tile_vnni_q8_two_slices for the 16 tokens of an AMX tile: the same S1 and S2 from two
// tdpbsud per block, and the same float steps in the same order, so the bounds have the
// same bits. The scale sums stay in memory: with the 16 running totals they would need
// every vector register.
VLLM_AMX_TARGET void tile_amx_q8_two_slices(const AmxSliceOperands* operands,
                                            const uint8_t* group, int64_t num_blocks,
                                            float bound_scale, float* upper, float* lower) {
  constexpr GGMLType T = GGMLType::Q8_0;
  alignas(64) int32_t sums[2][2][kAmxTokens][16];  // [block parity, slice, token, row]
  alignas(64) float scale_sums[kAmxTokens][16];    // [token, row]
  const auto block_sums = [&](int64_t b) VLLM_AMX_TARGET {
    amx_block_sums<2, false>(stored_q8_codes(group, b), operands[b], sums[b & 1]);
  };
  __m512 acc[kAmxTokens];  // [token], the group's 16 rows per vector
#pragma GCC unroll 16
  for (int t = 0; t < kAmxTokens; ++t) {
    acc[t] = _mm512_setzero_ps();
    _mm512_store_ps(scale_sums[t], _mm512_setzero_ps());
  }
  block_sums(0);
  for (int64_t b = 0; b < num_blocks; ++b) {
    if (b + 1 < num_blocks) block_sums(b + 1);
    const uint8_t* block = group + b * group_block_bytes<T>();
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
    const __m512 dw_size = _mm512_abs_ps(dw);
    const AmxTokenFields& a = operands[b].fields;
#pragma GCC unroll 16
    for (int t = 0; t < kAmxTokens; ++t) {
      const __m512i scaled = _mm512_sub_epi32(
          _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(sums[b & 1][0][t]), 7),
                           _mm512_load_si512(sums[b & 1][1][t])),
          _mm512_set1_epi32(a.sum_all[t]));
      const __m512 dx = _mm512_set1_ps(a.d[t]);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(scaled), _mm512_mul_ps(dw, dx), acc[t]);
      _mm512_store_ps(scale_sums[t],
                      _mm512_fmadd_ps(dw_size, dx, _mm512_load_ps(scale_sums[t])));
    }
  }
  for (int t = 0; t < kAmxTokens; ++t) {
    bound_outputs(acc[t], _mm512_load_ps(scale_sums[t]), num_blocks, bound_scale, &upper[t],
                  &lower[t]);
  }
}

}  // namespace

bool row_groups_supported(GGMLType type) {
  return type == GGMLType::Q4_0 || type == GGMLType::Q4_1 || type == GGMLType::Q5_0 ||
         type == GGMLType::Q8_0 || type == GGMLType::Q4_K;
}

// Decided by the CPU, not by set_isa: a path lowered after loading runs the row groups on
// the scalar tile, with the same results.
bool prefers_row_groups(const WeightMatrix& weight) {
  return best_isa() >= CpuIsa::kAvx512Vnni && !activation_quant_enabled() &&
         row_groups_supported(weight.type) && weight.rows % kGroupRows == 0;
}

void pack_row_groups(const WeightMatrix& weight, uint8_t* dst) {
  switch (weight.type) {
    case GGMLType::Q4_0: return pack_groups<GGMLType::Q4_0>(weight.data, weight.rows, weight.cols, dst);
    case GGMLType::Q4_1: return pack_groups<GGMLType::Q4_1>(weight.data, weight.rows, weight.cols, dst);
    case GGMLType::Q5_0: return pack_groups<GGMLType::Q5_0>(weight.data, weight.rows, weight.cols, dst);
    case GGMLType::Q8_0: return pack_groups<GGMLType::Q8_0>(weight.data, weight.rows, weight.cols, dst);
    case GGMLType::Q4_K: return pack_groups<GGMLType::Q4_K>(weight.data, weight.rows, weight.cols, dst);
    default: break;
  }
  throw InternalError(fmt::format("pack_row_groups: no row-group layout for ggml type {}",
                                  static_cast<uint32_t>(weight.type)));
}

void dequantize_grouped_row(const WeightMatrix& weight, int64_t row, float* out) {
  const int64_t group_bytes = kGroupRows * weight.row_bytes();
  const uint8_t* group = weight.data + (row / kGroupRows) * group_bytes;
  const int64_t lane = row % kGroupRows;
  switch (weight.type) {
    case GGMLType::Q4_0: return dequantize_group_row<GGMLType::Q4_0>(group, lane, weight.cols, out);
    case GGMLType::Q4_1: return dequantize_group_row<GGMLType::Q4_1>(group, lane, weight.cols, out);
    case GGMLType::Q5_0: return dequantize_group_row<GGMLType::Q5_0>(group, lane, weight.cols, out);
    case GGMLType::Q8_0: return dequantize_group_row<GGMLType::Q8_0>(group, lane, weight.cols, out);
    case GGMLType::Q4_K: return dequantize_group_row<GGMLType::Q4_K>(group, lane, weight.cols, out);
    default: break;
  }
  throw InternalError(fmt::format("dequantize_grouped_row: no row-group layout for ggml type {}",
                                  static_cast<uint32_t>(weight.type)));
}

void linear_row_groups(const float* x, int64_t num_tokens, const WeightMatrix& weight,
                       const float* bias, float* y) {
  const GroupedProduct product{&weight, bias, y};
  linear_row_groups_shared(x, num_tokens, {&product, 1});
}

void linear_row_groups_shared(const float* x, int64_t num_tokens,
                              std::span<const GroupedProduct> products) {
  VLLM_CHECK(!products.empty(), "linear_row_groups_shared: no products");
  const int64_t cols = products.front().weight->cols;
  const int64_t num_slices = cols / kBlock;  // activation blocks per token
  for (const GroupedProduct& product : products) {
    VLLM_CHECK(product.weight->cols == cols && product.weight->rows % kGroupRows == 0,
               "linear_row_groups_shared: a {} x {} matrix among products of {} columns",
               product.weight->rows, product.weight->cols, cols);
  }

  AmxOperandKinds kinds;
  for (const GroupedProduct& product : products) {
    (product.weight->type == GGMLType::Q8_0 ? kinds.slices : kinds.pairs) = true;
  }
  // The products' groups in one sequence, split over the threads together.
  std::vector<int64_t> first_of(products.size() + 1, 0);  // [num_products + 1]
  for (size_t i = 0; i < products.size(); ++i) {
    first_of[i + 1] = first_of[i] + products[i].weight->rows / kGroupRows;
  }

  // Tokens go in rounds of kRoundTokens, each sliced and gathered into operands once, so
  // that the buffers are sized for one round rather than for every token of a long prefill.
  for (int64_t round = 0; round < num_tokens; round += kRoundTokens) {
    const int64_t round_tokens = std::min(kRoundTokens, num_tokens - round);
    const SlicedBlock* xs = slice_tokens(x + round * cols, round_tokens, cols);
    const AmxOperands amx_operands = gather_amx_operands(xs, round_tokens, num_slices, kinds);
    parallel_for(first_of.back(), [&](int64_t first, int64_t end) {
      for (size_t i = 0; i < products.size(); ++i) {
        const int64_t begin_group = std::max(first, first_of[i]) - first_of[i];
        const int64_t end_group = std::min(end, first_of[i + 1]) - first_of[i];
        if (begin_group >= end_group) continue;
        const GroupedProduct& product = products[i];
        const int64_t rows = product.weight->rows;
        float* y = product.y + round * rows;
        multiply_groups_of_type(xs, amx_operands, num_slices, round_tokens, *product.weight,
                                begin_group, end_group, y);
        if (product.bias == nullptr) continue;
        for (int64_t t = 0; t < round_tokens; ++t) {
          for (int64_t j = begin_group * kGroupRows; j < end_group * kGroupRows; ++j) {
            y[t * rows + j] += product.bias[j];
          }
        }
      }
    });
  }
}

void linear_row_groups_max(const float* x, int64_t num_tokens, const WeightMatrix& weight,
                           float* y) {
  const int64_t rows = weight.rows, cols = weight.cols;
  if (weight.type != GGMLType::Q8_0 || active_isa() < CpuIsa::kAvx512Vnni) {
    linear_row_groups(x, num_tokens, weight, nullptr, y);
    return;
  }
  const int64_t num_slices = cols / kBlock;
  const int64_t num_groups = rows / kGroupRows;
  const int64_t group_bytes = kGroupRows * num_slices * GroupFormat<GGMLType::Q8_0>::kFileBytes;
  const float bound_scale = max_bound_scale(num_slices);
  const SlicedBlock* xs = slice_tokens(x, num_tokens, cols);
  using BoundTileFn = void (*)(const SlicedBlock*, int64_t, const uint8_t*, int64_t, float,
                               float*, float*);
  static const BoundTileFn bound_tiles[kTokenBlock] = {
      &tile_vnni_q8_two_slices<1>, &tile_vnni_q8_two_slices<2>, &tile_vnni_q8_two_slices<3>,
      &tile_vnni_q8_two_slices<4>};

  // First pass, per token and span of kSpanGroups groups: the largest upper bound of the
  // span's outputs, and the largest lower bound, a value the token's maximum reaches.
  // Spans rather than groups keep these small: 512 KB for 64 tokens of a 262,144-row
  // matrix, where per group they took 8 MB, beyond the memory budget's margin. A span that
  // may hold the maximum costs 16 exact groups instead of one or two.
  const int64_t num_spans = (num_groups + kSpanGroups - 1) / kSpanGroups;
  std::vector<float> upper(static_cast<size_t>(num_tokens * num_spans));  // [num_tokens, num_spans]
  std::vector<float> lower(upper.size());                                  // [num_tokens, num_spans]
  const AmxSliceOperands* amx_operands =
      gather_amx_operands(xs, num_tokens, num_slices, {.slices = true}).slices;
  const int64_t amx_tokens = amx_operands == nullptr ? 0 : num_tokens / kAmxTokens * kAmxTokens;
  parallel_for(num_spans, [&](int64_t first_span, int64_t end_span) {
    if (amx_tokens > 0) amx_begin(false);
    for (int64_t span = first_span; span < end_span; ++span) {
      const int64_t end_group = std::min(num_groups, (span + 1) * kSpanGroups);
      for (int64_t t0 = 0; t0 < num_tokens;) {
        const bool amx_tile = t0 < amx_tokens;
        const int mt = amx_tile ? kAmxTokens
                                : static_cast<int>(std::min<int64_t>(kTokenBlock, num_tokens - t0));
        const SlicedBlock* xt = xs + t0 * num_slices;
        float hi[kAmxTokens], lo[kAmxTokens];
        std::fill(hi, hi + kAmxTokens, -std::numeric_limits<float>::infinity());
        std::fill(lo, lo + kAmxTokens, -std::numeric_limits<float>::infinity());
        for (int64_t g = span * kSpanGroups; g < end_group; ++g) {
          const uint8_t* group = weight.data + g * group_bytes;
          float group_hi[kAmxTokens], group_lo[kAmxTokens];
          if (amx_tile) {
            tile_amx_q8_two_slices(amx_operands + t0 / kAmxTokens * num_slices, group,
                                   num_slices, bound_scale, group_hi, group_lo);
          } else {
            bound_tiles[mt - 1](xt, num_slices, group, num_slices, bound_scale, group_hi,
                                group_lo);
          }
          // A NaN bound is kept, so that the second pass computes the token exactly.
          for (int t = 0; t < mt; ++t) {
            if (!std::isnan(hi[t]) && !(group_hi[t] <= hi[t])) hi[t] = group_hi[t];
            if (!std::isnan(lo[t]) && !(group_lo[t] <= lo[t])) lo[t] = group_lo[t];
          }
        }
        for (int t = 0; t < mt; ++t) {
          upper[(t0 + t) * num_spans + span] = hi[t];
          lower[(t0 + t) * num_spans + span] = lo[t];
        }
        t0 += mt;
      }
    }
    if (amx_tokens > 0) amx_end();
  });

  // Second pass: exact products for the spans whose upper bound reaches the token's largest
  // lower bound, -inf elsewhere. A token with a non-finite bound (a NaN or an infinity in
  // its activations or products) gets every span exactly.
  std::vector<float> least_maxima(static_cast<size_t>(num_tokens));    // [num_tokens]
  std::vector<uint8_t> exact_all(static_cast<size_t>(num_tokens), 0);  // [num_tokens]
  for (int64_t t = 0; t < num_tokens; ++t) {
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t span = 0; span < num_spans; ++span) {
      const float hi = upper[t * num_spans + span], lo = lower[t * num_spans + span];
      if (!std::isfinite(hi) || !std::isfinite(lo)) exact_all[t] = 1;
      best = std::max(best, lo);
    }
    least_maxima[t] = best;
  }
  const TileFn exact_tile = vnni_tiles<GGMLType::Q8_0>()[0];
  parallel_for(num_spans, [&](int64_t first_span, int64_t end_span) {
    for (int64_t span = first_span; span < end_span; ++span) {
      const int64_t first_group = span * kSpanGroups;
      const int64_t end_group = std::min(num_groups, first_group + kSpanGroups);
      for (int64_t t = 0; t < num_tokens; ++t) {
        float* out = y + t * rows;
        if (exact_all[t] == 0 && upper[t * num_spans + span] < least_maxima[t]) {
          std::fill(out + first_group * kGroupRows, out + end_group * kGroupRows,
                    -std::numeric_limits<float>::infinity());
          continue;
        }
        for (int64_t g = first_group; g < end_group; ++g) {
          exact_tile(xs + t * num_slices, num_slices, weight.data + g * group_bytes, num_slices,
                     out + g * kGroupRows, rows);
        }
      }
    }
  });
}

}  // namespace vllm::cpu
