// Placeholder until the tokenizer lands; replaced by the tokenizer component.
#include "core/errors.h"
#include "model_loader/gguf.h"
#include "tokenizer/tokenizer.h"

namespace vllm {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GGUFFile& gguf) {
  throw ModelLoadError("load_gguf_tokenizer: not implemented yet");
}

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path) {
  throw ModelLoadError("load_hf_tokenizer: not implemented yet");
}

}  // namespace vllm
