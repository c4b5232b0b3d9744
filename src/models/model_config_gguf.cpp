// ModelConfig from GGUF metadata. Keys are prefixed by general.architecture, as in
// "llama.block_count"; the names follow the GGUF specification.
#include <optional>

#include "core/errors.h"
#include "model_loader/gguf.h"
#include "models/model.h"
#include "models/registry.h"

namespace vllm {
namespace {

int64_t require_positive(const GGUFFile& gguf, const std::string& key) {
  const int64_t value = gguf.get_int(key);  // throws ModelLoadError naming a missing key
  if (value <= 0) {
    throw ModelLoadError(
        fmt::format("{}: metadata key '{}' is {}, expected a positive value", gguf.path(), key,
                    value));
  }
  return value;
}

}  // namespace

ModelConfig model_config_from_gguf(const GGUFFile& gguf) {
  const std::string arch = gguf.get_string("general.architecture");
  const auto registration = find_model_by_gguf_architecture(arch);
  if (!registration) {
    throw ModelLoadError(fmt::format("{}: GGUF architecture '{}' is not supported (supported: {})",
                                     gguf.path(), arch, supported_architectures()));
  }
  const std::string prefix = arch + ".";

  ModelConfig config;
  config.architecture = std::string(registration->architecture);
  config.model_type = std::string(registration->model_type);
  config.quantization = "gguf";
  config.dtype = "float32";
  config.num_hidden_layers = require_positive(gguf, prefix + "block_count");
  config.hidden_size = require_positive(gguf, prefix + "embedding_length");
  config.intermediate_size = require_positive(gguf, prefix + "feed_forward_length");
  config.num_attention_heads = require_positive(gguf, prefix + "attention.head_count");
  config.num_key_value_heads =
      gguf.get_int_or(prefix + "attention.head_count_kv").value_or(config.num_attention_heads);
  config.max_position_embeddings = require_positive(gguf, prefix + "context_length");
  config.rope_theta = gguf.get_float_or(prefix + "rope.freq_base").value_or(10000.0);
  config.rms_norm_eps = gguf.get_float(prefix + "attention.layer_norm_rms_epsilon");

  // head_dim: the key length when given, else the rotary dimension, else hidden / heads.
  if (auto key_length = gguf.get_int_or(prefix + "attention.key_length")) {
    config.head_dim = *key_length;
  } else if (auto rope_dims = gguf.get_int_or(prefix + "rope.dimension_count")) {
    config.head_dim = *rope_dims;
  } else {
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }

  // vocab_size: the explicit key when present, else the tokenizer's token count, else the
  // embedding table's row count.
  if (auto vocab = gguf.get_int_or(prefix + "vocab_size")) {
    config.vocab_size = *vocab;
  } else if (const GGUFValue* tokens = gguf.find("tokenizer.ggml.tokens");
             tokens != nullptr && std::holds_alternative<GGUFArray>(tokens->value)) {
    config.vocab_size =
        static_cast<int64_t>(std::get<GGUFArray>(tokens->value).elements.size());
  } else if (const GGUFTensorInfo* embd = gguf.find_tensor("token_embd.weight");
             embd != nullptr && embd->shape.size() == 2) {
    config.vocab_size = embd->shape[1];
  } else {
    throw ModelLoadError(fmt::format(
        "{}: missing vocabulary size: none of '{}vocab_size', 'tokenizer.ggml.tokens' or "
        "tensor 'token_embd.weight' is present",
        gguf.path(), prefix));
  }

  if (config.num_key_value_heads <= 0 ||
      config.num_attention_heads % config.num_key_value_heads != 0) {
    throw ModelLoadError(fmt::format(
        "{}: attention.head_count={} is not a multiple of attention.head_count_kv={}",
        gguf.path(), config.num_attention_heads, config.num_key_value_heads));
  }
  if (config.head_dim <= 0 || config.head_dim % 2 != 0) {
    throw ModelLoadError(fmt::format("{}: head dimension {} is not a positive even number",
                                     gguf.path(), config.head_dim));
  }
  config.tie_word_embeddings = gguf.find_tensor("output.weight") == nullptr;
  return config;
}

}  // namespace vllm
