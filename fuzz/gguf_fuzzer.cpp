// Fuzz target for the GGUF reader: the input is a whole GGUF file. Opening it and reading
// every metadata value, every tensor's data range, the model config and the GGUF tokenizer
// must succeed or throw ModelLoadError. Every accepted tensor must lie inside the file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/errors.h"
#include "fuzz/fuzz_support.h"
#include "model_loader/gguf.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace {

// Aborts (a finding) when a tensor accepted by the reader does not lie inside the file.
void check_tensor_inside_file(const vllm::GGUFFile& gguf, const vllm::GGUFTensorInfo& info,
                              size_t file_size) {
  const uint64_t begin = gguf.data_offset() + info.offset;
  const bool inside = begin >= gguf.data_offset() && begin <= file_size &&
                      info.num_bytes <= file_size - begin;
  if (!inside) {
    std::fprintf(stderr, "tensor %s: bytes [%llu, +%llu) outside the %zu-byte file\n",
                 info.name.c_str(), static_cast<unsigned long long>(begin),
                 static_cast<unsigned long long>(info.num_bytes), file_size);
    std::abort();
  }
}

void read_everything(const vllm::GGUFFile& gguf, size_t file_size) {
  for (const std::string& key : gguf.metadata_keys()) {
    if (gguf.find(key) == nullptr) std::abort();  // a listed key must be found
    try {
      (void)gguf.get_string_or(key);
    } catch (const vllm::ModelLoadError&) {
    }
  }
  volatile uint8_t sink = 0;
  for (const vllm::GGUFTensorInfo& info : gguf.tensors()) {
    check_tensor_inside_file(gguf, info, file_size);
    (void)info.num_elements();
    if (info.num_bytes > 0) {
      const uint8_t* bytes = gguf.tensor_data(info);
      sink = sink + bytes[0] + bytes[info.num_bytes - 1];
    }
  }
  try {
    (void)vllm::model_config_from_gguf(gguf);
  } catch (const vllm::ModelLoadError&) {
  }
  try {
    const std::unique_ptr<vllm::Tokenizer> tokenizer = vllm::load_gguf_tokenizer(gguf);
    const std::vector<int32_t> ids = tokenizer->encode("Hello, world! 123 <|im_start|>");
    (void)tokenizer->decode(ids);
  } catch (const vllm::ModelLoadError&) {
  } catch (const vllm::InvalidArgument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  const std::string path = vllm::fuzz::write_temp_file(data, size, "input.gguf");
  std::shared_ptr<vllm::GGUFFile> gguf;
  try {
    gguf = vllm::GGUFFile::open(path);
  } catch (const vllm::ModelLoadError&) {
    return 0;
  }
  read_everything(*gguf, size);
  return 0;
}
