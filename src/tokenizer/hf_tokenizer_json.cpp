// Loader of HF tokenizer.json (plus tokenizer_config.json beside it). Plain byte-level BPE
// goes to ByteLevelBpeTokenizer (its fast path); everything else to PipelineTokenizer.
// Components that neither reproduces are rejected with ModelLoadError naming the component,
// rather than silently tokenizing differently.
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/json_depth.h"
#include "core/logging.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pipeline_tokenizer.h"
#include "tokenizer/tokenizer_json_components.h"
#include "tokenizer/tokenizer.h"

namespace vllm {
namespace {

using nlohmann::json;

using tokenizer_json::kMaxTokenId;

// Whole file contents; a name ending in ".gz" is gunzipped.
std::string read_file(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr) {
      throw ModelLoadError(fmt::format("{}: file not found or not readable", path));
    }
    std::string text;
    char buffer[1 << 16];
    int n = 0;
    while ((n = gzread(file, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
    const bool failed = n < 0;
    gzclose(file);
    if (failed) throw ModelLoadError(fmt::format("{}: not a readable gzip file", path));
    return text;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelLoadError(fmt::format("{}: file not found or not readable", path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  if (auto offset = find_json_depth_excess(text, kDefaultMaxJsonDepth)) {
    throw ModelLoadError(fmt::format("{}: JSON nests deeper than {} levels at byte {}; the file "
                                     "is corrupt or not a tokenizer file",
                                     path, kDefaultMaxJsonDepth, *offset));
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw ModelLoadError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

[[noreturn]] void throw_unsupported(const std::string& path, std::string_view key,
                                    std::string_view value, std::string_view supported) {
  throw ModelLoadError(fmt::format("{}: {} '{}' is not supported (supported: {})", path, key,
                                   value, supported));
}

std::string type_of(const json& component) {
  if (!component.is_object() || !component.contains("type") || !component["type"].is_string()) {
    return "<no type>";
  }
  return component["type"].get<std::string>();
}

bool flag(const json& object, const char* key, bool fallback) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  return it->get<bool>();
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const std::string& path, const json& node) {
  const std::string type = type_of(node);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const json& step : node.at("pretokenizers")) {
      if (auto parsed = parse_pre_tokenizer(path, step)) steps.push_back(std::move(parsed));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "ByteLevel") {
    if (flag(node, "add_prefix_space", false)) {
      throw_unsupported(path, "pre_tokenizer ByteLevel add_prefix_space", "true", "false");
    }
    if (!flag(node, "use_regex", true)) return nullptr;
    return std::make_unique<RegexPreTokenizer>(kGpt2SplitPattern);
  }
  if (type == "Digits") {
    return std::make_unique<DigitsPreTokenizer>(flag(node, "individual_digits", false));
  }
  if (type == "Split") {
    const std::string behavior = node.value("behavior", "Isolated");
    if (behavior != "Isolated") {
      throw_unsupported(path, "pre_tokenizer Split behavior", behavior, "Isolated");
    }
    if (flag(node, "invert", false)) {
      throw_unsupported(path, "pre_tokenizer Split invert", "true", "false");
    }
    const json& pattern = node.at("pattern");
    std::string regex;
    if (pattern.contains("Regex")) {
      regex = pattern["Regex"].get<std::string>();
    } else {
      // A literal string: quote it for PCRE2.
      regex = "\\Q" + pattern.at("String").get<std::string>() + "\\E";
    }
    try {
      return std::make_unique<RegexPreTokenizer>(regex);
    } catch (const std::invalid_argument& e) {
      throw ModelLoadError(fmt::format("{}: pre_tokenizer Split: {}", path, e.what()));
    }
  }
  throw_unsupported(path, "pre_tokenizer type", type, "ByteLevel, Digits, Split, Sequence");
}

// A token id of a post-processor: an integer from 0 to kMaxTokenId, or ModelLoadError.
int32_t post_processor_id(const std::string& path, const json& id) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
    throw ModelLoadError(fmt::format("{}: post_processor has invalid token id {}; ids must be "
                                     "integers from 0 to {}", path, id.dump(), kMaxTokenId));
  }
  return id.get<int32_t>();
}

// Ids of a post-processor's template for a single sequence, before and after it.
void parse_post_processor(const std::string& path, const json& node,
                          std::vector<int32_t>& prefix, std::vector<int32_t>& suffix) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "ByteLevel") return;  // only adjusts offsets
  if (type == "Sequence") {
    for (const json& step : node.at("processors")) parse_post_processor(path, step, prefix, suffix);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    prefix.push_back(post_processor_id(path, node.at("cls").at(1)));
    suffix.push_back(post_processor_id(path, node.at("sep").at(1)));
    return;
  }
  if (type == "TemplateProcessing") {
    const json& specials = node.at("special_tokens");
    bool after_sequence = false;
    for (const json& piece : node.at("single")) {
      if (piece.contains("Sequence")) {
        after_sequence = true;
        continue;
      }
      const std::string name = piece.at("SpecialToken").at("id").get<std::string>();
      if (!specials.contains(name)) {
        throw ModelLoadError(fmt::format("{}: post_processor template names special token "
                                         "'{}' missing from its special_tokens", path, name));
      }
      for (const json& id : specials[name].at("ids")) {
        (after_sequence ? suffix : prefix).push_back(post_processor_id(path, id));
      }
    }
    return;
  }
  throw_unsupported(path, "post_processor type", type,
                    "ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, "
                    "Sequence");
}

void check_decoder(const std::string& path, const json& node) {
  const std::string type = type_of(node);
  if (type == "ByteLevel") return;
  throw_unsupported(path, "decoder type", node.is_null() ? "null" : type, "ByteLevel");
}

void parse_model(const std::string& path, const json& model, ByteLevelBpeConfig& config,
                 int32_t& max_id) {
  const std::string type = model.contains("type") ? type_of(model) : "BPE";
  if (type != "BPE") throw_unsupported(path, "model type", type, "BPE");
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    throw ModelLoadError(fmt::format("{}: missing or invalid key model.vocab", path));
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    throw ModelLoadError(fmt::format("{}: missing or invalid key model.merges", path));
  }
  if (flag(model, "byte_fallback", false)) {
    throw_unsupported(path, "model.byte_fallback", "true", "false");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
      throw_unsupported(path, fmt::format("model.{}", key), model[key].get<std::string>(),
                        "null");
    }
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      model["dropout"].get<double>() > 0.0) {
    throw_unsupported(path, "model.dropout", model["dropout"].dump(), "null");
  }
  config.ignore_merges = flag(model, "ignore_merges", false);

  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(model["vocab"].size());
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
      throw ModelLoadError(fmt::format("{}: model.vocab entry '{}' has invalid id {}; ids must "
                                       "be integers from 0 to {}", path, token, id.dump(),
                                       kMaxTokenId));
    }
    vocab.emplace_back(token, id.get<int32_t>());
    max_id = std::max(max_id, id.get<int32_t>());
  }
  config.tokens.resize(static_cast<size_t>(max_id) + 1);
  for (auto& [token, id] : vocab) config.tokens[id] = std::move(token);

  config.merges.reserve(model["merges"].size());
  for (const json& merge : model["merges"]) {
    if (merge.is_string()) {
      // Older files write "left right"; byte-level tokens never contain a raw space.
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos) {
        throw ModelLoadError(fmt::format("{}: model.merges entry '{}' is not 'left right'",
                                         path, text));
      }
      config.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2) {
      config.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      throw ModelLoadError(fmt::format("{}: invalid model.merges entry {}", path, merge.dump()));
    }
  }
}

// bos_token / eos_token in tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> special_token_content(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) return (*it)["content"].get<std::string>();
  return std::nullopt;
}

// Settings that tokenizer_config.json and chat_template.jinja beside tokenizer.json add.
struct TokenizerConfigExtras {
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
  std::string chat_template;
};

TokenizerConfigExtras read_tokenizer_config(const std::filesystem::path& dir,
                                            const Tokenizer& partial) {
  TokenizerConfigExtras extras;
  const std::filesystem::path config_path = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    const json tokenizer_config = read_json_file(config_path.string());
    auto id_of = [&](const char* key) -> std::optional<int32_t> {
      const std::optional<std::string> content = special_token_content(tokenizer_config, key);
      if (!content) return std::nullopt;
      return partial.token_to_id(*content);
    };
    extras.bos_token_id = id_of("bos_token");
    extras.eos_token_id = id_of("eos_token");
    const auto it = tokenizer_config.find("chat_template");
    if (it != tokenizer_config.end() && it->is_string()) {
      extras.chat_template = it->get<std::string>();
    } else if (it != tokenizer_config.end() && it->is_array()) {
      // A list of named templates: use the one named "default".
      for (const json& entry : *it) {
        if (entry.value("name", "") == "default") {
          extras.chat_template = entry.value("template", "");
        }
      }
    }
  }
  const std::filesystem::path template_path = dir / "chat_template.jinja";
  if (extras.chat_template.empty() && std::filesystem::exists(template_path)) {
    std::ifstream file(template_path, std::ios::binary);
    std::stringstream buffer;
    buffer << file.rdbuf();
    extras.chat_template = buffer.str();
  }
  return extras;
}

std::vector<AddedToken> parse_added_tokens(const std::string& path, const json& root) {
  std::vector<AddedToken> tokens;
  for (const json& entry : root.value("added_tokens", json::array())) {
    AddedToken token;
    token.content = entry.at("content").get<std::string>();
    const json& id = entry.at("id");
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
      throw ModelLoadError(fmt::format("{}: added token '{}' has invalid id {}; ids must be "
                                       "integers from 0 to {}", path, token.content, id.dump(),
                                       kMaxTokenId));
    }
    token.id = id.get<int32_t>();
    token.special = flag(entry, "special", false);
    token.normalized = flag(entry, "normalized", !token.special);
    token.lstrip = flag(entry, "lstrip", false);
    token.rstrip = flag(entry, "rstrip", false);
    token.single_word = flag(entry, "single_word", false);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// Appends the tokens of tokenizer_config.json's added_tokens_decoder ({"id": {"content": ...,
// "special": ...}}) that tokenizer.json does not list, as transformers adds them on load.
void add_config_added_tokens(const std::filesystem::path& dir, std::vector<AddedToken>& tokens) {
  const std::filesystem::path config_path = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(config_path)) return;
  const json config = read_json_file(config_path.string());
  const auto it = config.find("added_tokens_decoder");
  if (it == config.end() || !it->is_object()) return;
  for (const auto& [key, entry] : it->items()) {
    int64_t id = -1;
    try {
      id = std::stoll(key);
    } catch (const std::exception&) {
      throw ModelLoadError(fmt::format("{}: added_tokens_decoder key '{}' is not a token id",
                                       config_path.string(), key));
    }
    if (id < 0 || id > kMaxTokenId) {
      throw ModelLoadError(fmt::format("{}: added_tokens_decoder id {} is outside 0 to {}",
                                       config_path.string(), id, kMaxTokenId));
    }
    const bool listed = std::any_of(tokens.begin(), tokens.end(),
                                    [&](const AddedToken& t) { return t.id == id; });
    if (listed) continue;
    AddedToken token;
    token.content = entry.at("content").get<std::string>();
    token.id = static_cast<int32_t>(id);
    token.special = flag(entry, "special", false);
    token.normalized = flag(entry, "normalized", !token.special);
    token.lstrip = flag(entry, "lstrip", false);
    token.rstrip = flag(entry, "rstrip", false);
    token.single_word = flag(entry, "single_word", false);
    tokens.push_back(std::move(token));
  }
}

// Whether ByteLevelBpeTokenizer reproduces this file: BPE without byte fallback or subword
// affixes, no normalizer, a ByteLevel decoder and pre-tokenizers that only split the raw
// text (ByteLevel without prefix space, Digits, Split Isolated).
bool is_plain_byte_level(const json& root) {
  const json& model = root["model"];
  const std::string model_type = model.contains("type") ? type_of(model) : "BPE";
  if (model_type != "BPE" || flag(model, "byte_fallback", false)) return false;
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      return false;
    }
  }
  if (!root.value("normalizer", json()).is_null()) return false;
  if (type_of(root.value("decoder", json())) != "ByteLevel") return false;
  std::function<bool(const json&)> splits_only = [&](const json& node) {
    if (node.is_null()) return true;
    const std::string type = type_of(node);
    if (type == "Sequence") {
      for (const json& step : node.value("pretokenizers", json::array())) {
        if (!splits_only(step)) return false;
      }
      return true;
    }
    if (type == "ByteLevel") return !flag(node, "add_prefix_space", false);
    if (type == "Digits") return true;
    if (type == "Split") {
      return node.value("behavior", "Isolated") == "Isolated" && !flag(node, "invert", false);
    }
    return false;
  };
  const json pre_tokenizer = root.value("pre_tokenizer", json());
  // ByteLevel must be among the pre-tokenizers: the fast path always maps to the alphabet.
  const std::string dump = pre_tokenizer.dump();
  return splits_only(pre_tokenizer) && dump.find("\"ByteLevel\"") != std::string::npos;
}

ByteLevelBpeConfig parse_tokenizer_json(const std::string& path, const json& root) {
  ByteLevelBpeConfig config;
  config.source = path;
  int32_t max_id = -1;
  parse_model(path, root["model"], config, max_id);

  const json normalizer = root.value("normalizer", json());
  if (!normalizer.is_null()) throw_unsupported(path, "normalizer type", type_of(normalizer), "null");
  check_decoder(path, root.value("decoder", json()));
  parse_post_processor(path, root.value("post_processor", json()), config.prefix_ids,
                       config.suffix_ids);
  const json pre_tokenizer = root.value("pre_tokenizer", json());
  if (!pre_tokenizer.is_null()) config.pre_tokenizer = parse_pre_tokenizer(path, pre_tokenizer);

  std::vector<AddedToken> added = parse_added_tokens(path, root);
  add_config_added_tokens(std::filesystem::path(path).parent_path(), added);
  for (AddedToken& token : added) {
    if (token.id > max_id) {
      max_id = token.id;
      config.tokens.resize(static_cast<size_t>(max_id) + 1);
    }
    if (config.tokens[token.id].empty()) config.tokens[token.id] = token.content;
    config.added_tokens.push_back(std::move(token));
  }
  return config;
}

PipelineConfig parse_pipeline_json(const std::string& path, const json& root) {
  PipelineConfig config;
  config.source = path;
  config.model = tokenizer_json::parse_model(path, root["model"]);
  config.normalizer = tokenizer_json::parse_normalizer(path, root.value("normalizer", json()));
  config.pre_tokenizer =
      tokenizer_json::parse_pre_tokenizer(path, root.value("pre_tokenizer", json()));
  config.decoder = tokenizer_json::parse_decoder(path, root.value("decoder", json()),
                                                 config.byte_level_decoder);
  parse_post_processor(path, root.value("post_processor", json()), config.prefix_ids,
                       config.suffix_ids);
  config.added_tokens = parse_added_tokens(path, root);
  add_config_added_tokens(std::filesystem::path(path).parent_path(), config.added_tokens);
  return config;
}

template <typename T>
void finish_with_config(const std::string& tokenizer_json_path, T& tokenizer) {
  const std::filesystem::path dir = std::filesystem::path(tokenizer_json_path).parent_path();
  TokenizerConfigExtras extras;
  try {
    extras = read_tokenizer_config(dir, tokenizer);
  } catch (const json::exception& e) {
    throw ModelLoadError(fmt::format("{}: unexpected tokenizer_config.json layout: {}",
                                     (dir / "tokenizer_config.json").string(), e.what()));
  }
  // add_bos_token and add_eos_token are not applied: transformers 5.25 loading a directory
  // with TokenizersBackend keeps tokenizer.json's post-processor whatever the flags are
  // (checked with add_bos_token and add_eos_token true).
  tokenizer.set_chat_metadata(extras.bos_token_id, extras.eos_token_id,
                              std::move(extras.chat_template));
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path) {
  const json root = read_json_file(tokenizer_json_path);
  if (!root.is_object()) {
    throw ModelLoadError(fmt::format("{}: expected a JSON object at the top level",
                                     tokenizer_json_path));
  }
  if (!root.contains("model") || !root["model"].is_object()) {
    throw ModelLoadError(fmt::format("{}: missing or invalid key model", tokenizer_json_path));
  }
  std::unique_ptr<Tokenizer> result;
  try {
    if (is_plain_byte_level(root)) {
      auto tokenizer = std::make_unique<ByteLevelBpeTokenizer>(
          parse_tokenizer_json(tokenizer_json_path, root));
      finish_with_config(tokenizer_json_path, *tokenizer);
      result = std::move(tokenizer);
    } else {
      auto tokenizer = std::make_unique<PipelineTokenizer>(
          parse_pipeline_json(tokenizer_json_path, root));
      finish_with_config(tokenizer_json_path, *tokenizer);
      result = std::move(tokenizer);
    }
  } catch (const json::exception& e) {
    throw ModelLoadError(fmt::format("{}: unexpected tokenizer.json layout: {}",
                                     tokenizer_json_path, e.what()));
  }
  VLLM_LOG_DEBUG("loaded tokenizer {} with {} tokens", tokenizer_json_path,
                 result->vocab_size());
  return result;
}

}  // namespace vllm
