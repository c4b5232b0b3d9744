// Weights of the Llama-family and Gemma decoders by their HF parameter names, read from an
// HF safetensors checkpoint or from a GGUF file (whose llama.cpp names are mapped).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace vllm {

class GGUFFile;
class HfWeights;

class DecoderWeightSource {
 public:
  virtual ~DecoderWeightSource() = default;

  virtual bool contains(const std::string& name) const = 0;
  // The 2-D tensor `name` as [rows, cols]. Throws ModelLoadError for a missing or misshapen
  // tensor.
  virtual WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) = 0;
  // matrix() for an embedding table that is only read by row (not also the LM head).
  virtual WeightMatrix table(const std::string& name, int64_t rows, int64_t cols) {
    return matrix(name, rows, cols);
  }
  // matrix() for a tensor that the caller cuts with slice_rows into parts whose row counts
  // are multiples of `row_slice`, so that its layout keeps such cuts valid.
  virtual WeightMatrix sliced_matrix(const std::string& name, int64_t rows, int64_t cols,
                                     int64_t row_slice) {
    (void)row_slice;
    return matrix(name, rows, cols);
  }
  // A q_proj or k_proj weight ([num_heads * head_dim, cols]) in the adjacent-pair rotary
  // layout: reordered from HF's rotate-half layout, or as stored in a llama GGUF file.
  virtual WeightMatrix adjacent_pair_matrix(const std::string& name, int64_t num_heads,
                                            int64_t head_dim, int64_t cols) = 0;
  // The 1-D tensor `name` of `size` elements as float32.
  virtual std::vector<float> vector(const std::string& name, int64_t size) = 0;
  // Reports tensors that no call above read: an error for HF checkpoints, a warning for
  // GGUF files. With tied embeddings a saved lm_head.weight is accepted unread.
  virtual void check_all_read(bool tied_embeddings) = 0;
};

// The naming scheme of a GGUF file's layer norms. The Llama family's
// post_attention_layernorm normalizes the MLP input, so llama.cpp names it ffn_norm. Gemma
// normalizes the input and output of both sublayers, so its post_attention_layernorm is
// post_attention_norm and its pre_feedforward_layernorm is ffn_norm.
enum class GgufNaming { kLlama, kGemma };

std::unique_ptr<DecoderWeightSource> make_hf_decoder_source(HfWeights& weights);
std::unique_ptr<DecoderWeightSource> make_gguf_decoder_source(
    const GGUFFile& gguf, GgufNaming naming = GgufNaming::kLlama);

// The llama.cpp tensor name of an HF decoder parameter name ("model.layers.3.mlp.up_proj
// .weight" -> "blk.3.ffn_up.weight"). Phi3's fused gate_up_proj maps to ffn_up and its
// qkv_proj to attn_qkv, as llama.cpp's converter writes them. Throws ModelLoadError for a
// name without a GGUF counterpart.
std::string gguf_tensor_name(const std::string& hf_name,
                             GgufNaming naming = GgufNaming::kLlama);

// Rows [first_row, first_row + num_rows) of `weight`, sharing its storage: one part of a
// fused projection such as qkv_proj.
WeightMatrix slice_rows(const WeightMatrix& weight, int64_t first_row, int64_t num_rows);

}  // namespace vllm
