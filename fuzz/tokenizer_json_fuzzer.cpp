// Fuzz target for loading an HF tokenizer.json: the input is the file's text. A tokenizer
// that loads must then encode and decode a fixed text and look up its own ids without
// crashing; loading may fail only with ModelLoadError.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"
#include "fuzz/fuzz_support.h"
#include "tokenizer/tokenizer.h"

namespace {

void use_tokenizer(const vllm::Tokenizer& tokenizer) {
  const std::string text = "Hello, world! It's 2024:\n\tcafé ü 日本語 <|im_start|>user 😀";
  for (const bool add_special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer.encode(text, add_special);
    for (const int32_t id : ids) {
      // Every id the encoder returns must be inside the vocabulary.
      if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
      (void)tokenizer.id_to_token(id);
      (void)tokenizer.token_bytes(id);
    }
    (void)tokenizer.decode(ids, /*skip_special_tokens=*/false);
    (void)tokenizer.decode(ids, /*skip_special_tokens=*/true);
  }
  (void)tokenizer.token_to_id("Hello");
  (void)tokenizer.bos_token_id();
  (void)tokenizer.eos_token_id();
  const int32_t vocab_size = tokenizer.vocab_size();
  for (int32_t id = 0; id < vocab_size && id < 64; ++id) (void)tokenizer.is_special(id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  const std::string path = vllm::fuzz::write_temp_file(data, size, "tokenizer.json");
  std::unique_ptr<vllm::Tokenizer> tokenizer;
  try {
    tokenizer = vllm::load_hf_tokenizer(path);
  } catch (const vllm::ModelLoadError&) {
    return 0;
  }
  use_tokenizer(*tokenizer);
  return 0;
}
