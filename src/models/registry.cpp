#include "models/registry.h"

#include <array>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "models/gemma.h"
#include "models/gpt2.h"
#include "models/hf_weights.h"
#include "models/llama.h"
#include "models/model_config_hf.h"

namespace vllm {
namespace {

const std::array<ModelRegistration, 8> kModels = {{
    {"LlamaForCausalLM", "llama", "llama", &load_llama_from_gguf, &load_llama_from_hf},
    // llama.cpp converts Mistral checkpoints to general.architecture "llama".
    {"MistralForCausalLM", "", "mistral", &load_llama_from_gguf, &load_llama_from_hf},
    {"Qwen2ForCausalLM", "qwen2", "qwen2", &load_llama_from_gguf, &load_llama_from_hf},
    {"Qwen3ForCausalLM", "qwen3", "qwen3", &load_llama_from_gguf, &load_llama_from_hf},
    {"Phi3ForCausalLM", "phi3", "phi3", &load_llama_from_gguf, &load_llama_from_hf},
    {"Gemma2ForCausalLM", "gemma2", "gemma2", &load_gemma_from_gguf, &load_gemma_from_hf},
    {"Gemma3ForCausalLM", "gemma3", "gemma3_text", &load_gemma_from_gguf, &load_gemma_from_hf},
    {"GPT2LMHeadModel", "gpt2", "gpt2", &load_gpt2_from_gguf, &load_gpt2_from_hf},
}};

}  // namespace

std::optional<ModelRegistration> find_model_by_gguf_architecture(std::string_view name) {
  for (const auto& model : kModels)
    if (!model.gguf_architecture.empty() && model.gguf_architecture == name) return model;
  return std::nullopt;
}

std::optional<ModelRegistration> find_model_by_architecture(std::string_view name) {
  for (const auto& model : kModels)
    if (model.architecture == name) return model;
  return std::nullopt;
}

std::string supported_architectures() {
  std::string names;
  for (const auto& model : kModels) {
    if (!names.empty()) names += ", ";
    names += model.gguf_architecture.empty()
                 ? std::string(model.architecture)
                 : fmt::format("{} (GGUF '{}')", model.architecture, model.gguf_architecture);
  }
  return names;
}

std::unique_ptr<Model> load_gguf_model(std::shared_ptr<GGUFFile> gguf) {
  VLLM_CHECK(gguf != nullptr, "load_gguf_model: null GGUF file");
  const ModelConfig config = model_config_from_gguf(*gguf);
  const auto registration = find_model_by_architecture(config.architecture);
  VLLM_CHECK(registration.has_value(), "architecture {} resolved but not registered",
             config.architecture);
  VLLM_LOG_INFO("Loading {} from {}: {} layers, hidden {}, {} heads ({} KV), vocab {}",
                config.architecture, gguf->path(), config.num_hidden_layers, config.hidden_size,
                config.num_attention_heads, config.num_key_value_heads, config.vocab_size);
  return registration->load_gguf(std::move(gguf), config);
}

std::unique_ptr<Model> load_hf_model(const std::string& directory, const std::string& dtype) {
  const std::optional<GGMLType> weight_type = parse_weight_dtype(dtype);
  const ModelConfig config = load_hf_config(directory);
  const auto registration = find_model_by_architecture(config.architecture);
  VLLM_CHECK(registration.has_value(), "architecture {} resolved but not registered",
             config.architecture);
  auto weights = std::make_shared<HfWeights>(SafetensorsCheckpoint::open(directory), weight_type);
  VLLM_LOG_INFO("Loading {} from {}: {} layers, hidden {}, {} heads ({} KV), vocab {}, weights {}",
                config.architecture, directory, config.num_hidden_layers, config.hidden_size,
                config.num_attention_heads, config.num_key_value_heads, config.vocab_size,
                weight_type ? ggml_type_name(*weight_type) : "in checkpoint dtype");
  return registration->load_hf(std::move(weights), config);
}

}  // namespace vllm
