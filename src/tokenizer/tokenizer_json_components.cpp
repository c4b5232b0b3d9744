#include "tokenizer/tokenizer_json_components.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace vllm::tokenizer_json {
namespace {

using nlohmann::json;

[[noreturn]] void unsupported(const std::string& path, std::string_view key,
                              std::string_view value, std::string_view supported) {
  throw ModelLoadError(fmt::format("{}: {} '{}' is not supported (supported: {})", path, key,
                                   value, supported));
}

std::string type_of(const json& node) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) return "<no type>";
  return node["type"].get<std::string>();
}

bool flag(const json& node, const char* key, bool fallback) {
  const auto it = node.find(key);
  if (it == node.end() || it->is_null()) return fallback;
  return it->get<bool>();
}

std::string text(const json& node, const char* key, const std::string& fallback) {
  const auto it = node.find(key);
  if (it == node.end() || it->is_null()) return fallback;
  return it->get<std::string>();
}

// {"String": "..."} or {"Regex": "..."}.
std::pair<std::string, bool> pattern_of(const json& node) {
  const json& pattern = node.at("pattern");
  if (pattern.contains("Regex")) return {pattern["Regex"].get<std::string>(), true};
  return {pattern.at("String").get<std::string>(), false};
}

// The non-negative integer field `key` of `node`, or `fallback` when it is absent or null.
// Anything else (a float, a negative number, a string) is rejected: converting a float
// outside the range would be undefined.
size_t count_field(const std::string& path, const json& node, const char* key,
                   size_t fallback) {
  if (!node.contains(key) || node[key].is_null()) return fallback;
  const json& value = node[key];
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    throw ModelLoadError(fmt::format("{}: {} field '{}' is {}; expected a non-negative integer",
                                     path, type_of(node), key, value.dump()));
  }
  return value.get<size_t>();
}

// Metaspace's prepend_scheme, or the older add_prefix_space flag.
std::string prepend_scheme_of(const json& node) {
  if (node.contains("prepend_scheme") && node["prepend_scheme"].is_string()) {
    return node["prepend_scheme"].get<std::string>();
  }
  return flag(node, "add_prefix_space", true) ? "always" : "never";
}

int32_t checked_id(const std::string& path, const std::string& token, const json& id) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
    throw ModelLoadError(fmt::format("{}: model.vocab entry '{}' has invalid id {}; ids must be "
                                     "integers from 0 to {}", path, token, id.dump(), kMaxTokenId));
  }
  return id.get<int32_t>();
}

// A {"token": id} vocabulary as a table indexed by id.
std::vector<std::string> vocab_table(const std::string& path, const json& model) {
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    throw ModelLoadError(fmt::format("{}: missing or invalid key model.vocab", path));
  }
  std::vector<std::string> tokens;
  for (const auto& [token, id] : model["vocab"].items()) {
    const int32_t index = checked_id(path, token, id);
    if (index >= static_cast<int32_t>(tokens.size())) tokens.resize(index + 1);
    tokens[index] = token;
  }
  return tokens;
}

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const std::string& path, const json& node) {
  if (node.is_null()) return nullptr;
  const std::string type = type_of(node);
  if (type == "NFC") return make_unicode_normalizer(UnicodeForm::kNfc);
  if (type == "NFD") return make_unicode_normalizer(UnicodeForm::kNfd);
  if (type == "NFKC") return make_unicode_normalizer(UnicodeForm::kNfkc);
  if (type == "NFKD") return make_unicode_normalizer(UnicodeForm::kNfkd);
  if (type == "Lowercase") return make_lowercase_normalizer();
  if (type == "StripAccents") return make_strip_accents_normalizer();
  if (type == "Strip") {
    return make_strip_normalizer(flag(node, "strip_left", true), flag(node, "strip_right", true));
  }
  if (type == "Replace") {
    auto [pattern, is_regex] = pattern_of(node);
    try {
      return make_replace_normalizer(pattern, is_regex, node.at("content").get<std::string>());
    } catch (const std::invalid_argument& e) {
      throw ModelLoadError(fmt::format("{}: normalizer Replace: {}", path, e.what()));
    }
  }
  if (type == "Prepend") return make_prepend_normalizer(node.at("prepend").get<std::string>());
  if (type == "BertNormalizer") {
    BertNormalizerOptions options;
    options.clean_text = flag(node, "clean_text", true);
    options.handle_chinese_chars = flag(node, "handle_chinese_chars", true);
    options.lowercase = flag(node, "lowercase", true);
    options.strip_accents = flag(node, "strip_accents", options.lowercase);
    return make_bert_normalizer(options);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const json& step : node.at("normalizers")) {
      if (auto parsed = parse_normalizer(path, step)) steps.push_back(std::move(parsed));
    }
    return make_sequence_normalizer(std::move(steps));
  }
  unsupported(path, "normalizer type", type,
              "NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, "
              "BertNormalizer, Sequence");
}

std::unique_ptr<PiecePreTokenizer> parse_pre_tokenizer(const std::string& path, const json& node) {
  if (node.is_null()) return nullptr;
  const std::string type = type_of(node);
  try {
    if (type == "ByteLevel") {
      return make_byte_level_pre_tokenizer(flag(node, "add_prefix_space", true),
                                           flag(node, "use_regex", true));
    }
    if (type == "Split") {
      auto [pattern, is_regex] = pattern_of(node);
      return make_split_pre_tokenizer(pattern, is_regex,
                                      parse_split_behavior(text(node, "behavior", "Isolated")),
                                      flag(node, "invert", false));
    }
    if (type == "Metaspace") {
      return make_metaspace_pre_tokenizer(text(node, "replacement", "\u2581"),
                                          prepend_scheme_of(node), flag(node, "split", true));
    }
    if (type == "Whitespace") return make_whitespace_pre_tokenizer();
    if (type == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
    if (type == "BertPreTokenizer") return make_bert_pre_tokenizer();
    if (type == "Punctuation") {
      return make_punctuation_pre_tokenizer(parse_split_behavior(text(node, "behavior", "Isolated")));
    }
    if (type == "Digits") return make_digits_pre_tokenizer(flag(node, "individual_digits", false));
  } catch (const std::invalid_argument& e) {
    throw ModelLoadError(fmt::format("{}: pre_tokenizer {}: {}", path, type, e.what()));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PiecePreTokenizer>> steps;
    for (const json& step : node.at("pretokenizers")) {
      if (auto parsed = parse_pre_tokenizer(path, step)) steps.push_back(std::move(parsed));
    }
    return make_sequence_pre_tokenizer(std::move(steps));
  }
  unsupported(path, "pre_tokenizer type", type,
              "ByteLevel, Split, Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, "
              "Punctuation, Digits, Sequence");
}

std::unique_ptr<Decoder> parse_decoder(const std::string& path, const json& node,
                                       bool& byte_level) {
  if (node.is_null()) return nullptr;
  const std::string type = type_of(node);
  if (type == "ByteLevel") {
    byte_level = true;
    return make_byte_level_decoder();
  }
  if (type == "ByteFallback") return make_byte_fallback_decoder();
  if (type == "Fuse") return make_fuse_decoder();
  if (type == "Strip") {
    return make_strip_decoder(node.at("content").get<std::string>(),
                              count_field(path, node, "start", 0), count_field(path, node, "stop", 0));
  }
  if (type == "Replace") {
    auto [pattern, is_regex] = pattern_of(node);
    if (is_regex) unsupported(path, "decoder Replace pattern", "Regex", "String");
    return make_replace_decoder(pattern, node.at("content").get<std::string>());
  }
  if (type == "Metaspace") {
    return make_metaspace_decoder(text(node, "replacement", "\u2581"),
                                  prepend_scheme_of(node) != "never");
  }
  if (type == "WordPiece") {
    return make_wordpiece_decoder(text(node, "prefix", "##"), flag(node, "cleanup", true));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const json& step : node.at("decoders")) {
      if (auto parsed = parse_decoder(path, step, byte_level)) steps.push_back(std::move(parsed));
    }
    return make_sequence_decoder(std::move(steps));
  }
  unsupported(path, "decoder type", type,
              "ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, WordPiece, Sequence");
}

std::unique_ptr<TokenModel> parse_model(const std::string& path, const json& model) {
  const std::string type = model.contains("type") ? type_of(model) : "BPE";
  try {
    if (type == "BPE") {
      for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        if (!text(model, key, "").empty()) {
          unsupported(path, fmt::format("model.{}", key), model[key].get<std::string>(), "null");
        }
      }
      if (model.contains("dropout") && !model["dropout"].is_null() &&
          model["dropout"].get<double>() > 0.0) {
        unsupported(path, "model.dropout", model["dropout"].dump(), "null");
      }
      if (!model.contains("merges") || !model["merges"].is_array()) {
        throw ModelLoadError(fmt::format("{}: missing or invalid key model.merges", path));
      }
      std::vector<std::pair<std::string, std::string>> merges;
      merges.reserve(model["merges"].size());
      for (const json& merge : model["merges"]) {
        if (merge.is_array() && merge.size() == 2) {
          merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
          continue;
        }
        const std::string entry = merge.is_string() ? merge.get<std::string>() : merge.dump();
        const size_t space = entry.find(' ');
        if (!merge.is_string() || space == std::string::npos) {
          throw ModelLoadError(fmt::format("{}: model.merges entry {} is not 'left right'", path,
                                           entry));
        }
        merges.emplace_back(entry.substr(0, space), entry.substr(space + 1));
      }
      BpeOptions options;
      if (model.contains("unk_token") && model["unk_token"].is_string()) {
        options.unk_token = model["unk_token"].get<std::string>();
      }
      options.fuse_unk = flag(model, "fuse_unk", false);
      options.byte_fallback = flag(model, "byte_fallback", false);
      options.ignore_merges = flag(model, "ignore_merges", false);
      return make_bpe_model(vocab_table(path, model), merges, std::move(options));
    }
    if (type == "WordPiece") {
      return make_wordpiece_model(vocab_table(path, model), text(model, "unk_token", "[UNK]"),
                                  text(model, "continuing_subword_prefix", "##"),
                                  count_field(path, model, "max_input_chars_per_word", 100));
    }
    if (type == "Unigram") {
      std::vector<std::pair<std::string, double>> vocab;
      for (const json& entry : model.at("vocab")) {
        vocab.emplace_back(entry.at(0).get<std::string>(), entry.at(1).get<double>());
      }
      std::optional<int32_t> unk_id;
      if (model.contains("unk_id") && model["unk_id"].is_number_integer()) {
        unk_id = model["unk_id"].get<int32_t>();
      }
      return make_unigram_model(std::move(vocab), unk_id, flag(model, "byte_fallback", false));
    }
  } catch (const std::invalid_argument& e) {
    throw ModelLoadError(fmt::format("{}: model {}: {}", path, type, e.what()));
  }
  unsupported(path, "model type", type, "BPE, WordPiece, Unigram");
}

}  // namespace vllm::tokenizer_json
