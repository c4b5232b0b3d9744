#include "models/decoder_weights.h"

#include <span>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "models/gguf_weights.h"
#include "models/hf_weights.h"

namespace vllm {
namespace {

class HfDecoderSource : public DecoderWeightSource {
 public:
  explicit HfDecoderSource(HfWeights& weights) : weights_(weights) {}

  bool contains(const std::string& name) const override { return weights_.contains(name); }
  WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) override {
    return weights_.matrix(name, rows, cols);
  }
  WeightMatrix adjacent_pair_matrix(const std::string& name, int64_t num_heads,
                                    int64_t head_dim, int64_t cols) override {
    return weights_.rotary_matrix(name, num_heads, head_dim, cols);
  }
  std::vector<float> vector(const std::string& name, int64_t size) override {
    return weights_.vector(name, size);
  }
  void check_all_read(bool tied_embeddings) override {
    // Rotary inverse frequencies are recomputed from the config, and with tied embeddings a
    // saved lm_head.weight is a copy of the embeddings, as vLLM treats both.
    weights_.check_all_read([tied_embeddings](const std::string& name) {
      return name.ends_with(".rotary_emb.inv_freq") ||
             (tied_embeddings && name == "lm_head.weight");
    });
  }

 private:
  HfWeights& weights_;
};

class GgufDecoderSource : public DecoderWeightSource {
 public:
  GgufDecoderSource(const GGUFFile& gguf, GgufNaming naming) : gguf_(gguf), naming_(naming) {}

  bool contains(const std::string& name) const override {
    return gguf_.find_tensor(gguf_tensor_name(name, naming_)) != nullptr;
  }
  WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) override {
    return gguf_weight_matrix(gguf_, mark_read(name), rows, cols);
  }
  WeightMatrix sliced_matrix(const std::string& name, int64_t rows, int64_t cols,
                             int64_t row_slice) override {
    return gguf_weight_matrix(gguf_, mark_read(name), rows, cols, row_slice);
  }
  WeightMatrix table(const std::string& name, int64_t rows, int64_t cols) override {
    return gguf_table_matrix(gguf_, mark_read(name), rows, cols);
  }
  WeightMatrix adjacent_pair_matrix(const std::string& name, int64_t num_heads,
                                    int64_t head_dim, int64_t cols) override {
    // llama.cpp's converter already permuted llama q/k rows into adjacent pairs.
    return matrix(name, num_heads * head_dim, cols);
  }
  std::vector<float> vector(const std::string& name, int64_t size) override {
    return gguf_vector(gguf_, mark_read(name), size);
  }
  void check_all_read(bool /*tied_embeddings*/) override {
    // Files may carry extras, so unread tensors are reported, not fatal. The rope factor
    // tables are read by model_config_from_gguf.
    std::vector<std::string> unread;
    for (const GGUFTensorInfo& info : gguf_.tensors()) {
      const bool rope_table = info.name == "rope_freqs.weight" ||
                              info.name == "rope_factors_long.weight" ||
                              info.name == "rope_factors_short.weight";
      if (read_.count(info.name) == 0 && !rope_table) unread.push_back(info.name);
    }
    if (!unread.empty()) {
      VLLM_LOG_WARN("{}: {} tensors in the file are not used by the model, the first is '{}'",
                    gguf_.path(), unread.size(), unread.front());
    }
  }

 private:
  std::string mark_read(const std::string& hf_name) {
    std::string name = gguf_tensor_name(hf_name, naming_);
    read_.insert(name);
    return name;
  }

  const GGUFFile& gguf_;
  GgufNaming naming_;
  std::set<std::string> read_;  // GGUF names returned so far
};

}  // namespace

std::unique_ptr<DecoderWeightSource> make_hf_decoder_source(HfWeights& weights) {
  return std::make_unique<HfDecoderSource>(weights);
}

std::unique_ptr<DecoderWeightSource> make_gguf_decoder_source(const GGUFFile& gguf,
                                                              GgufNaming naming) {
  return std::make_unique<GgufDecoderSource>(gguf, naming);
}

std::string gguf_tensor_name(const std::string& hf_name, GgufNaming naming) {
  if (hf_name == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf_name == "model.norm.weight") return "output_norm.weight";
  if (hf_name == "lm_head.weight") return "output.weight";

  static constexpr std::string_view kLayerPrefix = "model.layers.";
  if (hf_name.starts_with(kLayerPrefix)) {
    const size_t index_end = hf_name.find('.', kLayerPrefix.size());
    if (index_end != std::string::npos) {
      const std::string index = hf_name.substr(kLayerPrefix.size(), index_end - kLayerPrefix.size());
      const std::string rest = hf_name.substr(index_end + 1);
      // HF module path -> llama.cpp tensor base name; the suffix (.weight or .bias) is kept.
      using NamePair = std::pair<std::string_view, std::string_view>;
      static const NamePair kLlamaNorms[] = {
          {"post_attention_layernorm", "ffn_norm"},
      };
      static const NamePair kGemmaNorms[] = {
          {"post_attention_layernorm", "post_attention_norm"},
          {"pre_feedforward_layernorm", "ffn_norm"},
          {"post_feedforward_layernorm", "post_ffw_norm"},
      };
      static const NamePair kNames[] = {
          {"input_layernorm", "attn_norm"},
          {"self_attn.q_proj", "attn_q"},
          {"self_attn.k_proj", "attn_k"},
          {"self_attn.v_proj", "attn_v"},
          {"self_attn.o_proj", "attn_output"},
          {"self_attn.qkv_proj", "attn_qkv"},
          {"self_attn.q_norm", "attn_q_norm"},
          {"self_attn.k_norm", "attn_k_norm"},
          {"mlp.gate_proj", "ffn_gate"},
          {"mlp.up_proj", "ffn_up"},
          {"mlp.gate_up_proj", "ffn_up"},
          {"mlp.down_proj", "ffn_down"},
      };
      const std::span<const NamePair> norms =
          naming == GgufNaming::kGemma ? std::span<const NamePair>(kGemmaNorms)
                                       : std::span<const NamePair>(kLlamaNorms);
      for (const std::span<const NamePair> table : {norms, std::span<const NamePair>(kNames)}) {
        for (const auto& [hf, gguf] : table) {
          if (rest.starts_with(hf) && rest.size() > hf.size() && rest[hf.size()] == '.') {
            return fmt::format("blk.{}.{}{}", index, gguf, rest.substr(hf.size()));
          }
        }
      }
    }
  }
  throw ModelLoadError(fmt::format("no GGUF tensor name is known for parameter '{}'", hf_name));
}

WeightMatrix slice_rows(const WeightMatrix& weight, int64_t first_row, int64_t num_rows) {
  VLLM_CHECK(first_row >= 0 && num_rows >= 0 && first_row + num_rows <= weight.rows,
             "rows [{}, {}) are outside a matrix of {} rows", first_row, first_row + num_rows,
             weight.rows);
  // Row groups are 16 rows; a slice must start and end on a group boundary.
  VLLM_CHECK(weight.layout == WeightLayout::kRows || (first_row % 16 == 0 && num_rows % 16 == 0),
             "rows [{}, {}) split a group of 16 rows", first_row, first_row + num_rows);
  WeightMatrix slice = weight;
  slice.rows = num_rows;
  slice.data = weight.data + first_row * weight.row_bytes();
  return slice;
}

}  // namespace vllm
