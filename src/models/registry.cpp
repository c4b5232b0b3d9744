#include "models/registry.h"

#include <array>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "models/llama.h"

namespace vllm {
namespace {

const std::array<ModelRegistration, 1> kModels = {{
    {"LlamaForCausalLM", "llama", "llama", &load_llama_from_gguf},
}};

}  // namespace

std::optional<ModelRegistration> find_model_by_gguf_architecture(std::string_view name) {
  for (const auto& model : kModels)
    if (model.gguf_architecture == name) return model;
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
    names += fmt::format("{} (GGUF '{}')", model.architecture, model.gguf_architecture);
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

}  // namespace vllm
