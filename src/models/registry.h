// Model registry: maps HF architecture names and GGUF general.architecture values to the
// model classes that implement them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "models/model.h"

namespace vllm {

class GGUFFile;

struct ModelRegistration {
  std::string_view architecture;       // HF name, "LlamaForCausalLM"
  std::string_view gguf_architecture;  // GGUF general.architecture, "llama"
  std::string_view model_type;         // HF model_type, "llama"
  std::unique_ptr<Model> (*load_gguf)(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config);
};

// Returns the registration for a GGUF general.architecture value, or nullopt.
std::optional<ModelRegistration> find_model_by_gguf_architecture(std::string_view name);
// Returns the registration for an HF architecture name, or nullopt.
std::optional<ModelRegistration> find_model_by_architecture(std::string_view name);
// Comma-separated HF architecture names, for error messages.
std::string supported_architectures();

}  // namespace vllm
