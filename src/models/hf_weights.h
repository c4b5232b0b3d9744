// Shape-checked access to the tensors of a Hugging Face safetensors checkpoint as model
// weights: the safetensors counterpart of gguf_weights.h.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "model_loader/safetensors.h"

namespace vllm {

// Rounds to the nearest bfloat16, ties to even, as torch's float32 -> bfloat16 cast does.
// NaN stays NaN.
uint16_t float_to_bf16(float value);
// Rounds to the nearest IEEE half, ties to even; overflow gives infinity.
uint16_t float_to_half(float value);

// Parses an EngineArgs dtype: "auto" gives nullopt (keep the checkpoint's dtype), "float32",
// "bfloat16" and "float16" (also "float", "half") give that type. Throws InvalidArgument.
std::optional<GGMLType> parse_weight_dtype(const std::string& dtype);

class HfWeights {
 public:
  // `weight_type`: the type every matrix is converted to, or nullopt to keep each tensor's
  // file dtype. Unconverted weights are read in place from the mapping.
  HfWeights(std::shared_ptr<SafetensorsCheckpoint> checkpoint,
            std::optional<GGMLType> weight_type);

  const std::string& directory() const { return checkpoint_->directory(); }

  // Returns the 2-D tensor `name` ([rows, cols] in the file) as a weight matrix.
  // Throws ModelLoadError naming the tensor for a missing tensor, a wrong shape or a dtype
  // other than F32, F16 and BF16.
  WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols);

  // As matrix() for a q_proj or k_proj weight ([num_heads * head_dim, cols]), with each
  // head's rows reordered from the rotate-half layout of HF checkpoints (the pair of
  // dimension i is i + head_dim / 2) to the adjacent-pair layout that ops::rotary_embedding
  // and llama GGUF files use (the pair of 2i is 2i + 1). Output row 2i + j of a head is
  // input row j * head_dim / 2 + i. The copy is owned by this object.
  WeightMatrix rotary_matrix(const std::string& name, int64_t num_heads, int64_t head_dim,
                             int64_t cols);

  // Returns the 1-D tensor `name` of `size` elements as float32.
  std::vector<float> vector(const std::string& name, int64_t size);

  bool contains(const std::string& name) const;

  // Throws ModelLoadError listing the checkpoint tensors that no call above read, except
  // those `ignored` accepts (such as rotary_emb.inv_freq buffers).
  void check_all_read(const std::function<bool(const std::string&)>& ignored) const;

 private:
  const SafetensorsTensorInfo& checked_tensor(const std::string& name,
                                              const std::vector<int64_t>& expected_shape,
                                              const SafetensorsFile** file);
  // Copies rows of `data` ([rows, cols] of `type`) in the order `row_order`, converted to
  // `target`, into an owned buffer.
  const uint8_t* convert_rows(GGMLType type, std::span<const uint8_t> data, int64_t rows,
                              int64_t cols, const std::vector<int64_t>& row_order,
                              GGMLType target);

  std::shared_ptr<SafetensorsCheckpoint> checkpoint_;
  std::optional<GGMLType> weight_type_;
  std::set<std::string> read_;                 // names returned so far
  std::deque<std::vector<uint8_t>> buffers_;   // converted or reordered weights
};

}  // namespace vllm
