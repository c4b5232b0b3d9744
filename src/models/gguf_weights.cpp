#include "models/gguf_weights.h"

#include <cstring>

#include "core/errors.h"
#include "model_loader/gguf.h"

namespace vllm {
namespace {

const GGUFTensorInfo& checked_tensor(const GGUFFile& gguf, const std::string& name,
                                     const std::vector<int64_t>& expected) {
  const GGUFTensorInfo& info = gguf.tensor(name);  // throws naming the missing tensor
  if (info.shape != expected) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' has shape [{}], expected [{}] (ggml order)",
                                     gguf.path(), name, fmt::join(info.shape, ", "),
                                     fmt::join(expected, ", ")));
  }
  const auto traits = ggml_type_traits(static_cast<uint32_t>(info.type));
  if (!traits || !traits->supported) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' has type {}, which has no kernel",
                                     gguf.path(), name, ggml_type_name(info.type)));
  }
  if (expected[0] % traits->block_size != 0) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' rows of {} elements are not whole {} blocks",
                                     gguf.path(), name, expected[0], traits->name));
  }
  return info;
}

}  // namespace

WeightMatrix gguf_weight_matrix(const GGUFFile& gguf, const std::string& name, int64_t rows,
                                int64_t cols, int64_t row_slice) {
  const GGUFTensorInfo& info = checked_tensor(gguf, name, {cols, rows});
  WeightMatrix weight{info.type, rows, cols, gguf.tensor_data(info), Device::kCpu};
  // Matrices are streamed once per decode step: they move to huge pages, and the int8
  // kernels' matrices into row groups on the way. A tensor read twice (tied embeddings) is
  // copied once.
  const bool row_groups = ops::prefers_row_groups(weight) && row_slice % 16 == 0;
  const int64_t row_bytes = weight.row_bytes();
  const size_t granule = static_cast<size_t>((row_groups ? 16 : 1) * row_bytes);
  weight.data = gguf.copy_tensor_once(
      info, row_groups ? 1 : 0, granule, [&](uint8_t* dst, const uint8_t* src, size_t begin, size_t length) {
        if (!row_groups) {
          std::memcpy(dst + begin, src + begin, length);
          return;
        }
        const WeightMatrix rows_part{weight.type, static_cast<int64_t>(length) / row_bytes,
                                     cols, src + begin, Device::kCpu};
        ops::pack_row_groups(rows_part, dst + begin);
      });
  if (row_groups) weight.layout = WeightLayout::kRowGroups16;
  return weight;
}

WeightMatrix gguf_table_matrix(const GGUFFile& gguf, const std::string& name, int64_t rows,
                               int64_t cols) {
  const GGUFTensorInfo& info = checked_tensor(gguf, name, {cols, rows});
  return WeightMatrix{info.type, rows, cols, gguf.tensor_data(info), Device::kCpu};
}

std::vector<float> gguf_vector(const GGUFFile& gguf, const std::string& name, int64_t size) {
  const GGUFTensorInfo& info = checked_tensor(gguf, name, {size});
  std::vector<float> values(static_cast<size_t>(size));
  const WeightMatrix row{info.type, 1, size, gguf.tensor_data(info), Device::kCpu};
  ops::dequantize_rows(row, 0, 1, values);
  return values;
}

}  // namespace vllm
