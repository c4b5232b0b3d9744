// ModelConfig from GGUF metadata. Keys are prefixed by general.architecture, as in
// "llama.block_count"; the names follow the GGUF specification.
#include <cmath>
#include <optional>

#include "core/errors.h"
#include "model_loader/gguf.h"
#include "models/gguf_weights.h"
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

// Rope scaling from "{arch}.rope.scaling.*" keys and llama.cpp's rope factor tensors:
// rope_freqs.weight (Llama 3.1 frequencies) and rope_factors_long/short.weight (Phi3
// longrope).
void read_gguf_rope_scaling(const GGUFFile& gguf, const std::string& prefix,
                            ModelConfig& config) {
  RopeScaling& scaling = config.rope_scaling;
  const int64_t num_pairs = static_cast<int64_t>(
      std::lround(static_cast<double>(config.head_dim) * config.partial_rotary_factor)) / 2;
  const std::string type = gguf.get_string_or(prefix + "rope.scaling.type").value_or("none");
  if (type == "linear") {
    scaling.rope_type = "linear";
    scaling.factor = gguf.get_float(prefix + "rope.scaling.factor");
    if (scaling.factor <= 0.0) {
      throw ModelLoadError(fmt::format("{}: '{}rope.scaling.factor' is {}, expected a positive "
                                       "value",
                                       gguf.path(), prefix, scaling.factor));
    }
  } else if (type != "none" && type != "longrope" && type != "su") {
    throw ModelLoadError(fmt::format("{}: rope scaling type '{}' is not supported; supported: "
                                     "none, linear, longrope",
                                     gguf.path(), type));
  }
  if (gguf.find_tensor("rope_freqs.weight") != nullptr) {
    const std::vector<float> factors = gguf_vector(gguf, "rope_freqs.weight", num_pairs);
    scaling.freq_factors.assign(factors.begin(), factors.end());
  }
  if (gguf.find_tensor("rope_factors_long.weight") != nullptr) {
    scaling.rope_type = "longrope";
    const std::vector<float> long_factor = gguf_vector(gguf, "rope_factors_long.weight", num_pairs);
    const std::vector<float> short_factor =
        gguf_vector(gguf, "rope_factors_short.weight", num_pairs);
    scaling.long_factor.assign(long_factor.begin(), long_factor.end());
    scaling.short_factor.assign(short_factor.begin(), short_factor.end());
    scaling.original_max_position_embeddings =
        require_positive(gguf, prefix + "rope.scaling.original_context_length");
    scaling.attention_factor = gguf.get_float_or(prefix + "rope.scaling.attn_factor");
  }
}

// Gemma settings that GGUF files of llama.cpp's "gemma2" and "gemma3" architectures may
// leave out, with the defaults llama.cpp uses (those of the released models' configs).
void read_gguf_gemma_options(const GGUFFile& gguf, const std::string& prefix,
                             ModelConfig& config) {
  const bool is_gemma2 = config.architecture == "Gemma2ForCausalLM";
  config.hidden_act = "gelu_pytorch_tanh";
  // No query_pre_attn_scalar key: it is head_dim except in the 27B models (46 layers for
  // Gemma 2, 62 for Gemma 3), where it is hidden_size / num_attention_heads.
  const bool is_27b = config.num_hidden_layers == (is_gemma2 ? 46 : 62);
  config.query_pre_attn_scalar = static_cast<double>(
      is_27b ? config.hidden_size / config.num_attention_heads : config.head_dim);
  if (is_gemma2) {
    config.attn_logit_softcapping =
        gguf.get_float_or(prefix + "attn_logit_softcapping").value_or(50.0);
    config.final_logit_softcapping =
        gguf.get_float_or(prefix + "final_logit_softcapping").value_or(30.0);
    if (config.sliding_window == 0) config.sliding_window = 4096;
  } else {
    config.final_logit_softcapping =
        gguf.get_float_or(prefix + "final_logit_softcapping").value_or(0.0);
  }
  config.layer_types.clear();
  // Gemma 3 files without a window attend to the full context on every layer.
  if (config.sliding_window == 0) return;

  // Which layers slide: a per-layer bool array, or every layer but each n-th. The default is
  // every other layer for Gemma 2 and 5 of 6 for Gemma 3, as in transformers' configs.
  const std::string pattern_key = prefix + "attention.sliding_window_pattern";
  int64_t pattern = is_gemma2 ? 2 : 6;
  if (const GGUFValue* value = gguf.find(pattern_key);
      value != nullptr && std::holds_alternative<GGUFArray>(value->value)) {
    const GGUFArray& array = std::get<GGUFArray>(value->value);
    if (array.element_type != GGUFValueType::BOOL ||
        static_cast<int64_t>(array.count) != config.num_hidden_layers) {
      throw ModelLoadError(fmt::format("{}: '{}' is not an array of {} bools", gguf.path(),
                                       pattern_key, config.num_hidden_layers));
    }
    for (const GGUFValue& element : array.decode()) {
      config.layer_types.push_back(std::get<bool>(element.value) ? "sliding_attention"
                                                                  : "full_attention");
    }
  } else {
    pattern = gguf.get_int_or(pattern_key).value_or(pattern);
    if (pattern <= 0) {
      throw ModelLoadError(fmt::format("{}: '{}' is {}, expected a positive value",
                                       gguf.path(), pattern_key, pattern));
    }
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      config.layer_types.push_back((i + 1) % pattern != 0 ? "sliding_attention"
                                                          : "full_attention");
    }
  }
  // Gemma 3's sliding layers have their own rope base, 10000 unless rope.freq_base_swa
  // sets it. Gemma 2's sliding layers share rope.freq_base.
  if (!is_gemma2) {
    config.rope_local_base_freq =
        gguf.get_float_or(prefix + "rope.freq_base_swa").value_or(10000.0);
  }
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
  if (arch == "gpt2") {
    config.layer_norm_eps = gguf.get_float(prefix + "attention.layer_norm_epsilon");
  } else {
    config.rms_norm_eps = gguf.get_float(prefix + "attention.layer_norm_rms_epsilon");
  }

  // head_dim: the key length when given, else hidden / heads. The rotary dimension may be
  // smaller (Phi3's partial rotary).
  config.head_dim = gguf.get_int_or(prefix + "attention.key_length")
                        .value_or(config.hidden_size / config.num_attention_heads);
  if (auto rope_dims = gguf.get_int_or(prefix + "rope.dimension_count")) {
    if (*rope_dims <= 0 || *rope_dims > config.head_dim || *rope_dims % 2 != 0) {
      throw ModelLoadError(fmt::format(
          "{}: '{}rope.dimension_count' is {}, expected an even number up to head_dim {}",
          gguf.path(), prefix, *rope_dims, config.head_dim));
    }
    config.partial_rotary_factor =
        static_cast<double>(*rope_dims) / static_cast<double>(config.head_dim);
  }
  read_gguf_rope_scaling(gguf, prefix, config);
  if (auto window = gguf.get_int_or(prefix + "attention.sliding_window"); window && *window > 0) {
    config.sliding_window = *window;  // every layer slides, as in Phi3
  }

  // vocab_size: the explicit key when present, else the tokenizer's token count, else the
  // embedding table's row count.
  if (auto vocab = gguf.get_int_or(prefix + "vocab_size")) {
    config.vocab_size = *vocab;
  } else if (const GGUFValue* tokens = gguf.find("tokenizer.ggml.tokens");
             tokens != nullptr && std::holds_alternative<GGUFArray>(tokens->value)) {
    config.vocab_size =
        static_cast<int64_t>(std::get<GGUFArray>(tokens->value).count);
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
  if (arch == "gemma2" || arch == "gemma3") read_gguf_gemma_options(gguf, prefix, config);
  if (arch == "gpt2") config.hidden_act = "gelu_new";
  return config;
}

}  // namespace vllm
