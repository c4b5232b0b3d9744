#include "models/hf_weights.h"

#include <cstring>
#include <numeric>

#include <fmt/ranges.h>

#include "core/errors.h"

namespace vllm {
namespace {

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

int64_t element_size(GGMLType type) {
  return type == GGMLType::F32 ? 4 : 2;  // F16 and BF16
}

// Stores `values` as `target` (F32, F16 or BF16) at `out`.
void encode_row(std::span<const float> values, GGMLType target, uint8_t* out) {
  if (target == GGMLType::F32) {
    std::memcpy(out, values.data(), values.size_bytes());
    return;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t half =
        target == GGMLType::BF16 ? float_to_bf16(values[i]) : float_to_half(values[i]);
    std::memcpy(out + 2 * i, &half, sizeof(half));
  }
}

}  // namespace

uint16_t float_to_bf16(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN, sign kept
  }
  const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

uint16_t float_to_half(float value) {
  const uint32_t bits = float_bits(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7E00;  // NaN
  // 65520 is the midpoint between the largest half (65504) and 65536; ties go to the even
  // neighbour, which is infinity.
  if (magnitude >= 0x477FF000u) return sign | 0x7C00;
  if (magnitude >= 0x38800000u) {  // at least 2^-14: a normal half
    const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
  }
  // 2^-25 is the midpoint between zero and the smallest subnormal; it rounds to zero (even).
  if (magnitude <= 0x33000000u) return sign;
  // Subnormal half: the value in units of 2^-24, rounded to nearest even.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14..24 for exponents 102..112
  uint32_t result = mantissa >> shift;
  const uint32_t remainder = mantissa & ((1u << shift) - 1u);
  const uint32_t midpoint = 1u << (shift - 1u);
  if (remainder > midpoint || (remainder == midpoint && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);
}

std::optional<GGMLType> parse_weight_dtype(const std::string& dtype) {
  if (dtype.empty() || dtype == "auto") return std::nullopt;
  if (dtype == "float32" || dtype == "float") return GGMLType::F32;
  if (dtype == "bfloat16") return GGMLType::BF16;
  if (dtype == "float16" || dtype == "half") return GGMLType::F16;
  throw InvalidArgument(fmt::format(
      "dtype '{}' is not supported; use auto, float32, bfloat16 or float16", dtype));
}

HfWeights::HfWeights(std::shared_ptr<SafetensorsCheckpoint> checkpoint,
                     std::optional<GGMLType> weight_type)
    : checkpoint_(std::move(checkpoint)), weight_type_(weight_type) {
  VLLM_CHECK(checkpoint_ != nullptr, "HfWeights needs a checkpoint");
}

bool HfWeights::contains(const std::string& name) const {
  return checkpoint_->find(name).first != nullptr;
}

const SafetensorsTensorInfo& HfWeights::checked_tensor(const std::string& name,
                                                       const std::vector<int64_t>& expected_shape,
                                                       const SafetensorsFile** file) {
  const auto [info, owner] = checkpoint_->find(name);
  if (info == nullptr) {
    throw ModelLoadError(fmt::format("{}: missing tensor '{}'", directory(), name));
  }
  if (info->shape != expected_shape) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' has shape [{}], expected [{}]",
                                     owner->path(), name, fmt::join(info->shape, ", "),
                                     fmt::join(expected_shape, ", ")));
  }
  if (!ggml_type_of_safetensors_dtype(info->dtype)) {
    throw ModelLoadError(fmt::format(
        "{}: tensor '{}' has dtype {}; weights must be F32, F16 or BF16", owner->path(), name,
        info->dtype));
  }
  read_.insert(name);
  *file = owner;
  return *info;
}

const uint8_t* HfWeights::convert_rows(GGMLType type, std::span<const uint8_t> data,
                                       int64_t rows, int64_t cols,
                                       const std::vector<int64_t>& row_order, GGMLType target) {
  const WeightMatrix source{type, rows, cols, data.data(), Device::kCpu};
  const auto target_row_bytes = static_cast<size_t>(cols * element_size(target));
  std::vector<uint8_t>& buffer = buffers_.emplace_back(static_cast<size_t>(rows) *
                                                       target_row_bytes);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    // Going through float32 is exact for every F16/BF16 input, so only a narrowing target
    // rounds.
    ops::dequantize_rows(source, row_order[r], 1, row);
    encode_row(row, target, buffer.data() + static_cast<size_t>(r) * target_row_bytes);
  }
  return buffer.data();
}

WeightMatrix HfWeights::matrix(const std::string& name, int64_t rows, int64_t cols) {
  // The shape is checked before anything is sized by rows, which come from config.json and
  // may be wrong by any amount.
  const SafetensorsFile* file = nullptr;
  const SafetensorsTensorInfo& info = checked_tensor(name, {rows, cols}, &file);
  const GGMLType type = *ggml_type_of_safetensors_dtype(info.dtype);
  const GGMLType target = weight_type_.value_or(type);
  const std::span<const uint8_t> data = file->tensor_data(info);
  // The header length is arbitrary, so tensor data need not be aligned to its element size;
  // the kernels read elements in place, so such a tensor is copied.
  const bool aligned = reinterpret_cast<uintptr_t>(data.data()) % element_size(type) == 0;
  if (target == type && aligned) {
    return WeightMatrix{type, rows, cols, data.data(), Device::kCpu};
  }
  std::vector<int64_t> identity(static_cast<size_t>(rows));
  std::iota(identity.begin(), identity.end(), int64_t{0});
  return WeightMatrix{target, rows, cols, convert_rows(type, data, rows, cols, identity, target),
                      Device::kCpu};
}

WeightMatrix HfWeights::rotary_matrix(const std::string& name, int64_t num_heads,
                                      int64_t head_dim, int64_t cols) {
  VLLM_CHECK(head_dim % 2 == 0, "head_dim {} is odd", head_dim);
  const int64_t rows = num_heads * head_dim;
  const SafetensorsFile* file = nullptr;
  const SafetensorsTensorInfo& info = checked_tensor(name, {rows, cols}, &file);
  const GGMLType type = *ggml_type_of_safetensors_dtype(info.dtype);
  const GGMLType target = weight_type_.value_or(type);

  const int64_t half = head_dim / 2;
  std::vector<int64_t> row_order(static_cast<size_t>(rows));
  for (int64_t head = 0; head < num_heads; ++head) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        row_order[head * head_dim + 2 * i + j] = head * head_dim + j * half + i;
      }
    }
  }
  return WeightMatrix{target, rows, cols,
                      convert_rows(type, file->tensor_data(info), rows, cols, row_order, target),
                      Device::kCpu};
}

std::vector<float> HfWeights::vector(const std::string& name, int64_t size) {
  const SafetensorsFile* file = nullptr;
  const SafetensorsTensorInfo& info = checked_tensor(name, {size}, &file);
  const GGMLType type = *ggml_type_of_safetensors_dtype(info.dtype);
  std::vector<float> values(static_cast<size_t>(size));
  const WeightMatrix row{type, 1, size, file->tensor_data(info).data(), Device::kCpu};
  ops::dequantize_rows(row, 0, 1, values);
  return values;
}

void HfWeights::check_all_read(const std::function<bool(const std::string&)>& ignored) const {
  std::vector<std::string> unexpected;
  for (const std::string& name : checkpoint_->tensor_names()) {
    if (read_.count(name) == 0 && !ignored(name)) unexpected.push_back(name);
  }
  if (unexpected.empty()) return;
  constexpr size_t kMaxListed = 10;
  const size_t num_listed = std::min(unexpected.size(), kMaxListed);
  throw ModelLoadError(fmt::format(
      "{}: {} unexpected tensors that the model does not use: {}{}; the checkpoint does not "
      "match its config.json architecture",
      directory(), unexpected.size(),
      fmt::join(unexpected.begin(), unexpected.begin() + num_listed, ", "),
      unexpected.size() > num_listed ? ", ..." : ""));
}

}  // namespace vllm
