// Placeholder until the model registry lands; replaced by the models component.
#include "core/errors.h"
#include "model_loader/gguf.h"
#include "models/model.h"

namespace vllm {

std::unique_ptr<Model> load_gguf_model(std::shared_ptr<GGUFFile> gguf) {
  throw ModelLoadError("load_gguf_model: not implemented yet");
}

ModelConfig model_config_from_gguf(const GGUFFile& gguf) {
  throw ModelLoadError("model_config_from_gguf: not implemented yet");
}

}  // namespace vllm
