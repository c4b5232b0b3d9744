// ModelConfig from config.json, with the field names and defaults of transformers'
// LlamaConfig (transformers 5.25).
#include "models/model_config_hf.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/json_depth.h"
#include "models/registry.h"

namespace vllm {
namespace {

using json = nlohmann::json;

json parse_json_object(std::string_view text, const std::string& source) {
  // nlohmann::json prints and compares values recursively, so deeper nesting could overflow
  // the stack when an error message shows the value.
  if (const auto offset = find_json_depth_excess(text, kDefaultMaxJsonDepth)) {
    throw ModelLoadError(fmt::format("{}: JSON nests deeper than {} levels at byte {}", source,
                                     kDefaultMaxJsonDepth, *offset));
  }
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw ModelLoadError(fmt::format("{}: invalid JSON: {}", source, e.what()));
  }
  if (!root.is_object()) {
    throw ModelLoadError(
        fmt::format("{}: top level is a JSON {}, expected an object", source, root.type_name()));
  }
  return root;
}

// A present, non-null field; null counts as absent, as transformers treats it.
const json* find_field(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::optional<int64_t> optional_int(const json& object, const char* key,
                                    const std::string& source) {
  const json* value = find_field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer()) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected an integer", source, key, value->dump()));
  }
  return value->get<int64_t>();
}

std::optional<std::string> optional_string(const json& object, const char* key,
                                           const std::string& source) {
  const json* value = find_field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected a string", source, key, value->dump()));
  }
  return value->get<std::string>();
}

std::optional<double> optional_number(const json& object, const char* key,
                                      const std::string& source) {
  const json* value = find_field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected a number", source, key, value->dump()));
  }
  return value->get<double>();
}

int64_t require_positive(const json& object, const char* key, const std::string& source) {
  const std::optional<int64_t> value = optional_int(object, key, source);
  if (!value) {
    throw ModelLoadError(fmt::format("{}: missing required field \"{}\"", source, key));
  }
  if (*value <= 0) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected a positive integer", source, key, *value));
  }
  return *value;
}

bool optional_bool(const json& object, const char* key, bool fallback,
                   const std::string& source) {
  const json* value = find_field(object, key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected true or false", source, key, value->dump()));
  }
  return value->get<bool>();
}

std::string architecture_of(const json& root, const std::string& source) {
  const json* architectures = find_field(root, "architectures");
  if (architectures == nullptr || !architectures->is_array() || architectures->empty() ||
      !(*architectures)[0].is_string()) {
    throw ModelLoadError(fmt::format(
        "{}: missing \"architectures\" (a list such as [\"LlamaForCausalLM\"]); supported "
        "architectures: {}",
        source, supported_architectures()));
  }
  const std::string name = (*architectures)[0].get<std::string>();
  if (!find_model_by_architecture(name)) {
    throw ModelLoadError(fmt::format("{}: architecture '{}' is not supported; supported "
                                     "architectures: {}",
                                     source, name, supported_architectures()));
  }
  return name;
}

std::vector<double> number_list(const json& object, const char* key, const std::string& source) {
  const json* value = find_field(object, key);
  if (value == nullptr) return {};
  if (!value->is_array()) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected a list of numbers", source, key,
                    value->dump()));
  }
  std::vector<double> numbers;
  for (const json& element : *value) {
    if (!element.is_number()) {
      throw ModelLoadError(fmt::format("{}: field \"{}\" contains {}, expected numbers", source,
                                       key, element.dump()));
    }
    numbers.push_back(element.get<double>());
  }
  return numbers;
}

// Rotary settings: rope_theta and partial_rotary_factor at the top level (transformers 4) or
// inside "rope_parameters" (transformers 5), and the scaling of "rope_parameters" or
// "rope_scaling". Types other than default, linear, llama3 and longrope ("su" is its old
// name) are rejected rather than computed as plain rope.
void read_rope(const json& root, const std::string& source, ModelConfig& config) {
  std::optional<double> theta = optional_number(root, "rope_theta", source);
  std::optional<double> partial = optional_number(root, "partial_rotary_factor", source);
  RopeScaling& scaling = config.rope_scaling;
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const json* rope = find_field(root, key);
    if (rope == nullptr) continue;
    if (!rope->is_object()) {
      throw ModelLoadError(fmt::format("{}: field \"{}\" is {}, expected an object", source, key,
                                       rope->dump()));
    }
    std::string rope_type = optional_string(*rope, "rope_type", source)
                                .value_or(optional_string(*rope, "type", source)
                                              .value_or("default"));
    if (rope_type == "su") rope_type = "longrope";
    if (rope_type != "default" && rope_type != "linear" && rope_type != "llama3" &&
        rope_type != "longrope") {
      throw ModelLoadError(fmt::format("{}: {}.rope_type '{}' is not supported; supported: "
                                       "default, linear, llama3, longrope",
                                       source, key, rope_type));
    }
    if (!theta) theta = optional_number(*rope, "rope_theta", source);
    if (!partial) partial = optional_number(*rope, "partial_rotary_factor", source);
    if (rope_type == "default") continue;

    scaling.rope_type = rope_type;
    scaling.factor = optional_number(*rope, "factor", source).value_or(1.0);
    scaling.low_freq_factor = optional_number(*rope, "low_freq_factor", source).value_or(1.0);
    scaling.high_freq_factor = optional_number(*rope, "high_freq_factor", source).value_or(4.0);
    // Phi3 keeps original_max_position_embeddings at the top level.
    scaling.original_max_position_embeddings =
        optional_int(*rope, "original_max_position_embeddings", source)
            .value_or(optional_int(root, "original_max_position_embeddings", source).value_or(0));
    scaling.short_factor = number_list(*rope, "short_factor", source);
    scaling.long_factor = number_list(*rope, "long_factor", source);
    scaling.attention_factor = optional_number(*rope, "attention_factor", source);
    if ((rope_type == "llama3" || rope_type == "longrope") &&
        scaling.original_max_position_embeddings <= 0) {
      throw ModelLoadError(fmt::format(
          "{}: {} rope scaling needs a positive original_max_position_embeddings", source,
          rope_type));
    }
    if (rope_type != "longrope" && scaling.factor <= 0.0) {
      throw ModelLoadError(
          fmt::format("{}: rope scaling factor {} is not positive", source, scaling.factor));
    }
    if (rope_type == "llama3" && scaling.high_freq_factor <= scaling.low_freq_factor) {
      throw ModelLoadError(fmt::format(
          "{}: llama3 rope scaling needs high_freq_factor {} above low_freq_factor {}", source,
          scaling.high_freq_factor, scaling.low_freq_factor));
    }
  }
  config.rope_theta = theta.value_or(10000.0);
  config.partial_rotary_factor = partial.value_or(1.0);
  if (config.partial_rotary_factor <= 0.0 || config.partial_rotary_factor > 1.0) {
    throw ModelLoadError(fmt::format("{}: partial_rotary_factor {} is outside (0, 1]", source,
                                     config.partial_rotary_factor));
  }
}

// Fills config.layer_types from config.json's "layer_types" list, checking its length and
// values. Returns false, filling nothing, when config.json has no such field.
bool read_layer_types_field(const json& root, const std::string& source, ModelConfig& config) {
  const json* types = find_field(root, "layer_types");
  if (types == nullptr) return false;
  if (!types->is_array() || static_cast<int64_t>(types->size()) != config.num_hidden_layers) {
    throw ModelLoadError(fmt::format("{}: \"layer_types\" is {}, expected a list of {} "
                                     "strings",
                                     source, types->dump(), config.num_hidden_layers));
  }
  for (const json& type : *types) {
    if (!type.is_string() || (type.get<std::string>() != "full_attention" &&
                              type.get<std::string>() != "sliding_attention")) {
      throw ModelLoadError(fmt::format("{}: layer type {} is not supported; expected "
                                       "\"full_attention\" or \"sliding_attention\"",
                                       source, type.dump()));
    }
    config.layer_types.push_back(type.get<std::string>());
  }
  return true;
}

// Sliding-window attention as transformers configures it. Mistral and Phi3 slide on every
// layer when sliding_window is set. Qwen2 and Qwen3 slide only with use_sliding_window, on
// the layers from max_window_layers on, unless config.json lists layer_types.
void read_sliding_window(const json& root, const std::string& source, ModelConfig& config) {
  const std::string& arch = config.architecture;
  const bool is_qwen = arch == "Qwen2ForCausalLM" || arch == "Qwen3ForCausalLM";
  const bool uses_window = is_qwen || arch == "MistralForCausalLM" || arch == "Phi3ForCausalLM";
  const std::optional<int64_t> window = optional_int(root, "sliding_window", source);
  if (!uses_window) {
    // transformers' LlamaConfig has no sliding window, so a checkpoint setting one was not
    // trained as a Llama.
    if (window) {
      throw ModelLoadError(fmt::format(
          "{}: \"sliding_window\" is not supported for {}", source, arch));
    }
    return;
  }
  if (!window) return;
  if (*window <= 0) {
    throw ModelLoadError(
        fmt::format("{}: sliding_window {} is not positive", source, *window));
  }
  if (is_qwen && !optional_bool(root, "use_sliding_window", false, source)) return;
  config.sliding_window = *window;

  if (read_layer_types_field(root, source, config)) return;
  const int64_t first_sliding =
      is_qwen ? optional_int(root, "max_window_layers", source).value_or(28) : 0;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    config.layer_types.push_back(i >= first_sliding ? "sliding_attention" : "full_attention");
  }
}

// Architectures served by the Llama-family decoder (models/llama.h).
bool is_llama_family(const std::string& architecture) {
  return architecture == "LlamaForCausalLM" || architecture == "MistralForCausalLM" ||
         architecture == "Qwen2ForCausalLM" || architecture == "Qwen3ForCausalLM" ||
         architecture == "Phi3ForCausalLM";
}

// Rejects LlamaConfig options that this model does not implement, so that a checkpoint using
// them fails at load instead of producing wrong outputs. Qwen2's q/k/v biases are part of
// the architecture, not an option.
void check_llama_options(const json& root, const std::string& source) {
  if (optional_bool(root, "attention_bias", false, source)) {
    throw ModelLoadError(
        fmt::format("{}: \"attention_bias\": true is not supported yet", source));
  }
  if (optional_bool(root, "mlp_bias", false, source)) {
    throw ModelLoadError(fmt::format("{}: \"mlp_bias\": true is not supported yet", source));
  }
  const json* act = find_field(root, "hidden_act");
  if (act != nullptr && (!act->is_string() || act->get<std::string>() != "silu")) {
    throw ModelLoadError(fmt::format("{}: \"hidden_act\" {} is not supported; expected \"silu\"",
                                     source, act->dump()));
  }
}

// --- Gemma 2, Gemma 3 and GPT-2 (transformers 5.25's Gemma2Config, Gemma3TextConfig and
// GPT2Config field names and defaults) ---

bool is_gemma(const std::string& architecture) {
  return architecture == "Gemma2ForCausalLM" || architecture == "Gemma3ForCausalLM";
}

// A soft-capping field: absent gives transformers' default, null turns capping off.
double read_soft_cap(const json& root, const char* key, double default_cap,
                     const std::string& source) {
  if (!root.contains(key)) return default_cap;
  const double cap = optional_number(root, key, source).value_or(0.0);
  if (cap < 0.0) {
    throw ModelLoadError(fmt::format("{}: \"{}\" is {}, expected a positive number or null",
                                     source, key, cap));
  }
  return cap;
}

// A positive integer field with transformers' default when absent.
int64_t positive_or(const json& root, const char* key, int64_t default_value,
                    const std::string& source) {
  const int64_t value = optional_int(root, key, source).value_or(default_value);
  if (value <= 0) {
    throw ModelLoadError(
        fmt::format("{}: field \"{}\" is {}, expected a positive integer", source, key, value));
  }
  return value;
}

// Reads Gemma 3's rope: the sliding-window layers use rope_local_base_freq without scaling,
// the full-attention layers rope_theta with rope_scaling. transformers 5 saves both as
// "rope_parameters": {"full_attention": {...}, "sliding_attention": {...}}; older
// config.json files use rope_theta, rope_local_base_freq and rope_scaling, which read_rope
// has already applied to the full-attention settings.
void read_gemma3_rope(const json& root, const std::string& source, ModelConfig& config) {
  config.rope_theta = optional_number(root, "rope_theta", source).value_or(1'000'000.0);
  config.rope_local_base_freq =
      optional_number(root, "rope_local_base_freq", source).value_or(10'000.0);
  const json* params = find_field(root, "rope_parameters");
  if (params != nullptr && params->is_object()) {
    for (const char* layer_type : {"full_attention", "sliding_attention"}) {
      const json* rope = find_field(*params, layer_type);
      if (rope == nullptr) continue;
      // read_rope parses one flat rope object with the same field names.
      ModelConfig parsed;
      read_rope(json{{"rope_parameters", *rope}}, source, parsed);
      const bool is_full = std::string_view(layer_type) == "full_attention";
      if (!is_full && parsed.rope_scaling.rope_type != "default") {
        throw ModelLoadError(fmt::format("{}: rope_parameters.sliding_attention.rope_type '{}' "
                                         "is not supported; Gemma 3 uses \"default\"",
                                         source, parsed.rope_scaling.rope_type));
      }
      const std::optional<double> theta = optional_number(*rope, "rope_theta", source);
      if (is_full) {
        if (theta) config.rope_theta = *theta;
        config.rope_scaling = parsed.rope_scaling;
      } else if (theta) {
        config.rope_local_base_freq = *theta;
      }
    }
  }
  const std::string& type = config.rope_scaling.rope_type;
  if (type != "default" && type != "linear") {
    throw ModelLoadError(fmt::format("{}: rope type '{}' is not supported for Gemma 3; "
                                     "supported: default, linear",
                                     source, type));
  }
}

// Fills layer_types from config.json's layer_types, else from transformers' pattern. Gemma 2
// slides on even layers, Gemma 3 on every layer but each sliding_window_pattern-th (default
// 6, so 5 local : 1 global).
void read_gemma_layer_types(const json& root, const std::string& source, ModelConfig& config) {
  if (read_layer_types_field(root, source, config)) return;
  const int64_t pattern = config.architecture == "Gemma2ForCausalLM"
                              ? 2
                              : positive_or(root, "sliding_window_pattern", 6, source);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    config.layer_types.push_back((i + 1) % pattern != 0 ? "sliding_attention"
                                                        : "full_attention");
  }
}

// Reads the Gemma fields on top of the Llama-style ones parse_hf_config has read.
void read_gemma_options(const json& root, const std::string& source, ModelConfig& config) {
  const bool is_gemma2 = config.architecture == "Gemma2ForCausalLM";
  if (optional_bool(root, "attention_bias", false, source)) {
    throw ModelLoadError(
        fmt::format("{}: \"attention_bias\": true is not supported for Gemma", source));
  }
  if (optional_bool(root, "use_bidirectional_attention", false, source)) {
    throw ModelLoadError(fmt::format(
        "{}: \"use_bidirectional_attention\": true (an embedding model) is not supported",
        source));
  }

  // Gemma 2 configs also carry hidden_act, which transformers ignores for them.
  config.hidden_act =
      optional_string(root, "hidden_activation", source).value_or("gelu_pytorch_tanh");
  if (config.hidden_act != "gelu_pytorch_tanh" && config.hidden_act != "gelu_new") {
    throw ModelLoadError(fmt::format("{}: \"hidden_activation\" '{}' is not supported; "
                                     "expected \"gelu_pytorch_tanh\"",
                                     source, config.hidden_act));
  }

  config.head_dim = optional_int(root, "head_dim", source).value_or(256);
  config.tie_word_embeddings = optional_bool(root, "tie_word_embeddings", true, source);
  config.query_pre_attn_scalar =
      optional_number(root, "query_pre_attn_scalar", source).value_or(256.0);
  if (config.query_pre_attn_scalar <= 0.0) {
    throw ModelLoadError(fmt::format("{}: query_pre_attn_scalar {} is not positive", source,
                                     config.query_pre_attn_scalar));
  }

  config.attn_logit_softcapping =
      read_soft_cap(root, "attn_logit_softcapping", is_gemma2 ? 50.0 : 0.0, source);
  config.final_logit_softcapping =
      read_soft_cap(root, "final_logit_softcapping", is_gemma2 ? 30.0 : 0.0, source);
  config.sliding_window = positive_or(root, "sliding_window", 4096, source);
  read_gemma_layer_types(root, source, config);
  if (!is_gemma2) read_gemma3_rope(root, source, config);
}

// Reads GPT2Config's fields: n_embd, n_layer, n_head, n_positions and n_inner (null: 4 *
// n_embd). GPT-2 has LayerNorm with layer_norm_epsilon, an ungated MLP and learned
// positions instead of rope.
ModelConfig parse_gpt2_config(const json& root, const std::string& source, ModelConfig config) {
  if (optional_bool(root, "add_cross_attention", false, source)) {
    throw ModelLoadError(
        fmt::format("{}: \"add_cross_attention\": true is not supported for GPT-2", source));
  }
  if (!optional_bool(root, "scale_attn_weights", true, source) ||
      optional_bool(root, "scale_attn_by_inverse_layer_idx", false, source)) {
    throw ModelLoadError(fmt::format("{}: only GPT-2's default attention scale 1 / "
                                     "sqrt(head_dim) is supported (scale_attn_weights true, "
                                     "scale_attn_by_inverse_layer_idx false)",
                                     source));
  }
  config.vocab_size = positive_or(root, "vocab_size", 50257, source);
  config.hidden_size = positive_or(root, "n_embd", 768, source);
  config.num_hidden_layers = positive_or(root, "n_layer", 12, source);
  config.num_attention_heads = positive_or(root, "n_head", 12, source);
  config.num_key_value_heads = config.num_attention_heads;
  config.max_position_embeddings = positive_or(root, "n_positions", 1024, source);
  config.intermediate_size = positive_or(root, "n_inner", 4 * config.hidden_size, source);
  config.hidden_act = optional_string(root, "activation_function", source).value_or("gelu_new");
  if (config.hidden_act != "gelu_new" && config.hidden_act != "gelu_pytorch_tanh") {
    throw ModelLoadError(fmt::format("{}: \"activation_function\" '{}' is not supported; "
                                     "expected \"gelu_new\"",
                                     source, config.hidden_act));
  }
  config.layer_norm_eps = optional_number(root, "layer_norm_epsilon", source).value_or(1e-5);
  if (config.layer_norm_eps <= 0.0) {
    throw ModelLoadError(fmt::format("{}: layer_norm_epsilon {} is not positive", source,
                                     config.layer_norm_eps));
  }
  config.tie_word_embeddings = optional_bool(root, "tie_word_embeddings", true, source);
  if (config.hidden_size % config.num_attention_heads != 0) {
    throw ModelLoadError(fmt::format("{}: n_embd {} is not a multiple of n_head {}", source,
                                     config.hidden_size, config.num_attention_heads));
  }
  config.head_dim = config.hidden_size / config.num_attention_heads;
  config.dtype = "float32";  // activations; the weights keep their checkpoint dtype
  config.quantization = "";
  return config;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelLoadError(fmt::format("failed to open '{}'", path.string()));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

}  // namespace

ModelConfig parse_hf_config(std::string_view json_text, const std::string& source_name) {
  const json root = parse_json_object(json_text, source_name);
  const std::string& source = source_name;

  ModelConfig config;
  config.architecture = architecture_of(root, source);
  config.model_type = optional_string(root, "model_type", source).value_or("");
  if (is_llama_family(config.architecture)) check_llama_options(root, source);
  if (config.architecture == "GPT2LMHeadModel") return parse_gpt2_config(root, source, config);

  config.vocab_size = require_positive(root, "vocab_size", source);
  config.hidden_size = require_positive(root, "hidden_size", source);
  config.intermediate_size = require_positive(root, "intermediate_size", source);
  config.num_hidden_layers = require_positive(root, "num_hidden_layers", source);
  config.num_attention_heads = require_positive(root, "num_attention_heads", source);
  config.num_key_value_heads = optional_int(root, "num_key_value_heads", source)
                                   .value_or(config.num_attention_heads);
  config.head_dim = optional_int(root, "head_dim", source)
                        .value_or(config.hidden_size / config.num_attention_heads);
  config.max_position_embeddings = require_positive(root, "max_position_embeddings", source);
  config.rms_norm_eps = optional_number(root, "rms_norm_eps", source).value_or(1e-6);
  read_rope(root, source, config);
  config.tie_word_embeddings = optional_bool(root, "tie_word_embeddings", false, source);
  config.dtype = "float32";  // activations; the weights keep their checkpoint dtype
  config.quantization = "";
  if (is_gemma(config.architecture)) {
    read_gemma_options(root, source, config);
  } else {
    read_sliding_window(root, source, config);
  }

  if (config.num_key_value_heads <= 0 ||
      config.num_attention_heads % config.num_key_value_heads != 0) {
    throw ModelLoadError(fmt::format(
        "{}: num_attention_heads={} is not a multiple of num_key_value_heads={}", source,
        config.num_attention_heads, config.num_key_value_heads));
  }
  if (config.head_dim <= 0 || config.head_dim % 2 != 0) {
    throw ModelLoadError(fmt::format("{}: head_dim {} is not a positive even number", source,
                                     config.head_dim));
  }
  if (config.rms_norm_eps <= 0.0) {
    throw ModelLoadError(
        fmt::format("{}: rms_norm_eps {} is not positive", source, config.rms_norm_eps));
  }
  // A zero or negative base gives NaN or constant rotations, which would fail or corrupt
  // the first step rather than the load.
  if (!(config.rope_theta > 0.0) || !std::isfinite(config.rope_theta)) {
    throw ModelLoadError(fmt::format("{}: rope_theta {} is not a positive finite number",
                                     source, config.rope_theta));
  }
  // 0 means unset (not Gemma 3).
  if (!(config.rope_local_base_freq >= 0.0) || !std::isfinite(config.rope_local_base_freq)) {
    throw ModelLoadError(fmt::format("{}: rope_local_base_freq {} is not a positive finite "
                                     "number", source, config.rope_local_base_freq));
  }
  // The attention kernel takes the window as a 32-bit count of tokens.
  if (config.sliding_window > std::numeric_limits<int32_t>::max()) {
    throw ModelLoadError(fmt::format("{}: sliding_window {} exceeds {} tokens", source,
                                     config.sliding_window,
                                     std::numeric_limits<int32_t>::max()));
  }
  return config;
}

ModelConfig load_hf_config(const std::string& directory) {
  const std::filesystem::path path = std::filesystem::path(directory) / "config.json";
  return parse_hf_config(read_file(path), path.string());
}

GenerationDefaults parse_generation_config(std::string_view json_text,
                                           const std::string& source_name) {
  const json root = parse_json_object(json_text, source_name);
  // transformers 5 leaves every sampling field of GenerationConfig unset by default, so each
  // value present in the file differs from the default and vLLM applies it.
  GenerationDefaults defaults;
  defaults.temperature = optional_number(root, "temperature", source_name);
  defaults.top_p = optional_number(root, "top_p", source_name);
  defaults.top_k = optional_int(root, "top_k", source_name);
  defaults.min_p = optional_number(root, "min_p", source_name);
  defaults.repetition_penalty = optional_number(root, "repetition_penalty", source_name);
  defaults.max_new_tokens = optional_int(root, "max_new_tokens", source_name);
  return defaults;
}

}  // namespace vllm
