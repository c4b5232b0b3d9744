// Placeholder until the GGUF reader lands; replaced by the loader component.
#include "core/errors.h"
#include "model_loader/gguf.h"

namespace vllm {

std::shared_ptr<GGUFFile> GGUFFile::open(const std::string& path) {
  throw ModelLoadError("GGUFFile::open: not implemented yet");
}

}  // namespace vllm
