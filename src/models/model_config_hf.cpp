// ModelConfig from config.json, with the field names and defaults of transformers'
// LlamaConfig (transformers 5.25).
#include "models/model_config_hf.h"

#include <filesystem>
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

// rope_theta: top level in transformers 4, inside "rope_parameters" in transformers 5.
// Scaled rope variants are rejected rather than computed as plain rope.
double read_rope_theta(const json& root, const std::string& source) {
  std::optional<double> theta = optional_number(root, "rope_theta", source);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const json* rope = find_field(root, key);
    if (rope == nullptr) continue;
    if (!rope->is_object()) {
      throw ModelLoadError(fmt::format("{}: field \"{}\" is {}, expected an object", source, key,
                                       rope->dump()));
    }
    const std::string rope_type = optional_string(*rope, "rope_type", source)
                                      .value_or(optional_string(*rope, "type", source)
                                                    .value_or("default"));
    if (rope_type != "default") {
      throw ModelLoadError(fmt::format("{}: {}.rope_type '{}' is not supported yet; only "
                                       "unscaled rope (\"default\") is",
                                       source, key, rope_type));
    }
    if (!theta) theta = optional_number(*rope, "rope_theta", source);
  }
  return theta.value_or(10000.0);
}

// Rejects LlamaConfig options that this model does not implement, so that a checkpoint using
// them fails at load instead of producing wrong outputs.
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
  if (find_field(root, "sliding_window") != nullptr) {
    throw ModelLoadError(
        fmt::format("{}: \"sliding_window\" is not supported yet for this architecture", source));
  }
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
  check_llama_options(root, source);

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
  config.rope_theta = read_rope_theta(root, source);
  config.tie_word_embeddings = optional_bool(root, "tie_word_embeddings", false, source);
  config.dtype = "float32";  // activations; the weights keep their checkpoint dtype
  config.quantization = "";

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
