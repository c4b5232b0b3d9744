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
class HfWeights;

struct ModelRegistration {
  std::string_view architecture;       // HF name, "LlamaForCausalLM"
  std::string_view gguf_architecture;  // GGUF general.architecture, "llama"; empty: none
  std::string_view model_type;         // HF model_type, "llama"
  std::unique_ptr<Model> (*load_gguf)(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config);
  std::unique_ptr<Model> (*load_hf)(std::shared_ptr<HfWeights> weights, const ModelConfig& config);
};

// Returns the registration for a GGUF general.architecture value, or nullopt.
std::optional<ModelRegistration> find_model_by_gguf_architecture(std::string_view name);
// Returns the registration for an HF architecture name, or nullopt.
std::optional<ModelRegistration> find_model_by_architecture(std::string_view name);
// Comma-separated HF architecture names, for error messages.
std::string supported_architectures();

// Builds the model class that <directory>/config.json names from the directory's safetensors
// weights. `dtype` ("auto", "float32", "bfloat16", "float16") is the type the weight
// matrices are stored in; "auto" keeps each tensor's checkpoint dtype. Throws
// ModelLoadError (or InvalidArgument for an unknown dtype).
std::unique_ptr<Model> load_hf_model(const std::string& directory, const std::string& dtype);

}  // namespace vllm
