// Exports a llama GGUF file as a Hugging Face bfloat16 safetensors directory, so that tests
// have real HF-format weights without torch. Every tensor is dequantized with our kernels,
// rounded to bfloat16 (ties to even, as torch rounds) and renamed to its HF parameter name.
// q_proj and k_proj rows are moved back from the adjacent-pair rotary layout of llama GGUF
// files to HF's rotate-half layout (GGUF row 2i + j of a head is HF row j * head_dim / 2 + i).
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/ops.h"
#include "model_loader/gguf.h"
#include "models/hf_weights.h"
#include "models/model.h"

namespace vllm::testing {

namespace hf_export_detail {

struct ExportedTensor {
  std::vector<int64_t> shape;   // HF order: [rows, cols] or [size]
  std::vector<uint16_t> bf16;   // [num_elements]
};

// Maps a llama GGUF tensor name to its HF name, or "" for a tensor HF does not store.
inline std::string hf_name(const std::string& gguf_name) {
  static const std::map<std::string, std::string> kGlobal = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  static const std::map<std::string, std::string> kLayer = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (auto it = kGlobal.find(gguf_name); it != kGlobal.end()) return it->second;
  static const std::regex kBlock(R"(blk\.(\d+)\.(.+))");
  std::smatch match;
  if (std::regex_match(gguf_name, match, kBlock)) {
    if (auto it = kLayer.find(match[2].str()); it != kLayer.end()) {
      return fmt::format("model.layers.{}.{}", match[1].str(), it->second);
    }
  }
  return "";
}

inline ExportedTensor export_tensor(const GGUFFile& gguf, const GGUFTensorInfo& info,
                                    int64_t rotary_heads, int64_t head_dim) {
  const int64_t cols = info.shape[0];
  const int64_t rows = info.shape.size() == 2 ? info.shape[1] : 1;
  std::vector<float> values(static_cast<size_t>(rows * cols));
  const WeightMatrix matrix{info.type, rows, cols, gguf.tensor_data(info), Device::kCpu};
  ops::dequantize_rows(matrix, 0, rows, values);

  ExportedTensor tensor;
  tensor.shape = info.shape.size() == 2 ? std::vector<int64_t>{rows, cols}
                                        : std::vector<int64_t>{cols};
  tensor.bf16.resize(values.size());
  const int64_t half = head_dim / 2;
  for (int64_t row = 0; row < rows; ++row) {
    int64_t hf_row = row;
    if (rotary_heads > 0) {
      const int64_t head = row / head_dim;
      const int64_t i = (row % head_dim) / 2;
      const int64_t j = row % 2;
      hf_row = head * head_dim + j * half + i;
    }
    for (int64_t col = 0; col < cols; ++col) {
      tensor.bf16[hf_row * cols + col] = float_to_bf16(values[row * cols + col]);
    }
  }
  return tensor;
}

inline void write_json(const std::filesystem::path& path, const nlohmann::ordered_json& value) {
  std::ofstream file(path);
  file << value.dump(2) << "\n";
  if (!file) throw std::runtime_error("failed to write " + path.string());
}

inline void write_safetensors(const std::filesystem::path& path,
                              const std::map<std::string, ExportedTensor>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {  // sorted by name, as safetensors writes
    const uint64_t size = tensor.bf16.size() * sizeof(uint16_t);
    header[name] = {{"dtype", "BF16"}, {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  file.write(reinterpret_cast<const char*>(length), 8);
  file.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, tensor] : tensors) {
    file.write(reinterpret_cast<const char*>(tensor.bf16.data()),
               static_cast<std::streamsize>(tensor.bf16.size() * sizeof(uint16_t)));
  }
  if (!file) throw std::runtime_error("failed to write " + path.string());
}

}  // namespace hf_export_detail

// Writes model.safetensors, config.json, generation_config.json and the tokenizer files of
// `tokenizer_dir` into `output_dir`, through a temporary folder renamed at the end so that a
// crash never leaves a partial directory. Supports llama GGUF files.
inline void export_llama_gguf_to_hf(const std::string& gguf_path,
                                    const std::filesystem::path& tokenizer_dir,
                                    const std::filesystem::path& output_dir) {
  namespace fs = std::filesystem;
  using namespace hf_export_detail;
  const std::shared_ptr<GGUFFile> gguf = GGUFFile::open(gguf_path);
  const ModelConfig config = model_config_from_gguf(*gguf);

  std::map<std::string, ExportedTensor> tensors;
  for (const GGUFTensorInfo& info : gguf->tensors()) {
    const std::string name = hf_name(info.name);
    if (name.empty()) throw std::runtime_error("no HF name for GGUF tensor " + info.name);
    int64_t rotary_heads = 0;
    if (name.ends_with("q_proj.weight")) rotary_heads = config.num_attention_heads;
    if (name.ends_with("k_proj.weight")) rotary_heads = config.num_key_value_heads;
    tensors.emplace(name, export_tensor(*gguf, info, rotary_heads, config.head_dim));
  }

  const fs::path staging =
      output_dir.parent_path() / fmt::format(".{}.tmp-{}", output_dir.filename().string(),
                                             ::getpid());
  fs::remove_all(staging);
  fs::create_directories(staging);
  write_safetensors(staging / "model.safetensors", tensors);

  const int64_t bos = gguf->get_int_or("tokenizer.ggml.bos_token_id").value_or(1);
  const int64_t eos = gguf->get_int_or("tokenizer.ggml.eos_token_id").value_or(2);
  nlohmann::ordered_json hf_config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_hidden_layers},
      {"num_attention_heads", config.num_attention_heads},
      {"num_key_value_heads", config.num_key_value_heads},
      {"head_dim", config.head_dim},
      {"max_position_embeddings", config.max_position_embeddings},
      {"rms_norm_eps", config.rms_norm_eps},
      {"rope_theta", config.rope_theta},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"tie_word_embeddings", config.tie_word_embeddings},
      {"bos_token_id", bos},
      {"eos_token_id", eos},
      {"torch_dtype", "bfloat16"},
  };
  write_json(staging / "config.json", hf_config);
  write_json(staging / "generation_config.json",
             {{"bos_token_id", bos}, {"eos_token_id", eos}});
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(tokenizer_dir / file, staging / file);
  }

  fs::create_directories(output_dir.parent_path());
  std::error_code error;
  fs::rename(staging, output_dir, error);
  if (error) {
    fs::remove_all(staging);
    // Another process may have finished the same export first; its result is identical.
    if (!fs::is_regular_file(output_dir / "model.safetensors")) {
      throw std::runtime_error("failed to move the export to " + output_dir.string() + ": " +
                               error.message());
    }
  }
}

}  // namespace vllm::testing
