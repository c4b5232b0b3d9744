#include "tokenizer/gguf_sentencepiece.h"

#include <algorithm>
#include <unordered_map>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "tokenizer/pipeline_tokenizer.h"
#include "tokenizer/utf8.h"

namespace vllm {
namespace {

constexpr int64_t kControl = 3;      // llama.cpp token type CONTROL
constexpr int64_t kUserDefined = 4;  // llama.cpp token type USER_DEFINED

size_t count_chars(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size(); utf8::decode_at(text, pos)) ++count;
  return count;
}

// Recovers merges as transformers' generate_merges(vocab, scores) does. Every split of a
// token into two vocabulary tokens is a merge. Merges are ordered by the token's score
// (highest first), then by the character length of the left and then the right part
// (longest first), and ties keep the order of the tokens in the file. A repeated token
// string counts once, at its first position, with the id and score of its last.
std::vector<std::pair<std::string, std::string>> recover_merges(
    const std::vector<std::string>& tokens, const std::vector<double>& scores) {
  std::unordered_map<std::string_view, int32_t> last_id;
  last_id.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) last_id[tokens[id]] = static_cast<int32_t>(id);

  struct Candidate {
    std::string_view left;
    std::string_view right;
    double score;
    size_t left_chars;
    size_t right_chars;
  };
  std::vector<Candidate> candidates;
  std::vector<uint8_t> seen(tokens.size(), 0);
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string_view token = tokens[id];
    const int32_t owner = last_id[token];
    if (seen[owner]) continue;
    seen[owner] = 1;
    const double score = scores[owner];
    const size_t total_chars = count_chars(token);
    size_t split = 0;
    size_t left_chars = 0;
    utf8::decode_at(token, split);
    for (; split < token.size(); utf8::decode_at(token, split)) {
      ++left_chars;
      const std::string_view left = token.substr(0, split);
      const std::string_view right = token.substr(split);
      if (last_id.count(left) != 0 && last_id.count(right) != 0) {
        candidates.push_back({left, right, score, left_chars, total_chars - left_chars});
      }
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_chars != b.left_chars) return a.left_chars > b.left_chars;
    return a.right_chars > b.right_chars;
  });
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(candidates.size());
  for (const Candidate& c : candidates) merges.emplace_back(c.left, c.right);
  return merges;
}

std::optional<int32_t> token_id_key(const GGUFFile& gguf, std::string_view key,
                                    size_t vocab_size) {
  const std::optional<int64_t> id = gguf.get_int_or(key);
  if (!id) return std::nullopt;
  if (*id < 0 || *id >= static_cast<int64_t>(vocab_size)) {
    throw ModelLoadError(fmt::format("{}: {} = {} is outside the vocabulary of {} tokens",
                                     gguf.path(), key, *id, vocab_size));
  }
  return static_cast<int32_t>(*id);
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_sentencepiece_tokenizer(const GGUFFile& gguf) {
  const std::string architecture = gguf.get_string_or("general.architecture").value_or("");
  const bool gemma = architecture == "gemma" || architecture == "gemma2" ||
                     architecture == "gemma3";
  const bool phi3 = architecture == "phi3";

  std::vector<std::string> file_tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  const size_t vocab_size = file_tokens.size();
  if (vocab_size == 0) {
    throw ModelLoadError(fmt::format("{}: tokenizer.ggml.tokens is empty", gguf.path()));
  }
  std::vector<int64_t> token_types;
  if (gguf.find("tokenizer.ggml.token_type") != nullptr) {
    token_types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (token_types.size() != vocab_size) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.token_type has {} entries but "
                                       "tokenizer.ggml.tokens has {}", gguf.path(),
                                       token_types.size(), vocab_size));
    }
  }

  std::vector<std::string> tokens = file_tokens;
  std::vector<double> scores(vocab_size, 0.0);
  if (gemma) {
    // Gemma files store tokens of two or more spaces as spaces. transformers renames them to
    // the same number of U+2581 and orders merges by position in the file, not by score.
    for (std::string& token : tokens) {
      if (token.find(' ') != std::string::npos &&
          token.find_first_not_of(" \t\n\r\f\v") == std::string::npos) {
        const size_t n = count_chars(token);
        token.clear();
        for (size_t i = 0; i < n; ++i) token += "\u2581";
      }
    }
    for (size_t id = 0; id < vocab_size; ++id) scores[id] = -static_cast<double>(id);
  } else {
    if (gguf.find("tokenizer.ggml.scores") == nullptr) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.scores is missing; a SentencePiece "
                                       "vocabulary needs it to order its merges", gguf.path()));
    }
    scores = gguf.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != vocab_size) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.scores has {} entries but "
                                       "tokenizer.ggml.tokens has {}", gguf.path(), scores.size(),
                                       vocab_size));
    }
  }

  std::vector<std::pair<std::string, std::string>> merges;
  if (gguf.find("tokenizer.ggml.merges") != nullptr) {
    for (const std::string& merge : gguf.get_string_array("tokenizer.ggml.merges")) {
      const size_t space = merge.find(' ');
      if (space == std::string::npos) {
        throw ModelLoadError(fmt::format("{}: tokenizer.ggml.merges entry '{}' is not "
                                         "'left right'", gguf.path(), merge));
      }
      merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
    }
  } else {
    merges = recover_merges(tokens, scores);
  }

  PipelineConfig config;
  config.source = gguf.path();
  const std::optional<int32_t> unk_id = token_id_key(gguf, "tokenizer.ggml.unknown_token_id",
                                                     vocab_size);
  BpeOptions options;
  options.fuse_unk = true;
  options.byte_fallback = true;
  // GemmaTokenizer names its unk token; LlamaTokenizer's BPE has none (unknown characters
  // that have no byte tokens are dropped).
  if (gemma) options.unk_token = unk_id ? tokens[*unk_id] : std::string("<unk>");

  std::unordered_map<std::string, int32_t> vocab_ids;
  for (size_t id = 0; id < vocab_size; ++id) vocab_ids[tokens[id]] = static_cast<int32_t>(id);
  for (size_t id = 0; id < token_types.size(); ++id) {
    // As transformers: CONTROL tokens are special, USER_DEFINED ones plain added tokens
    // (only when their spelling is in the vocabulary); both match raw text.
    if (token_types[id] == kControl) {
      const auto it = vocab_ids.find(file_tokens[id]);
      const int32_t token_id = it != vocab_ids.end() ? it->second : static_cast<int32_t>(id);
      config.added_tokens.push_back({file_tokens[id], token_id, /*special=*/true,
                                     /*normalized=*/false});
    } else if (token_types[id] == kUserDefined) {
      const auto it = vocab_ids.find(file_tokens[id]);
      if (it == vocab_ids.end()) continue;
      config.added_tokens.push_back({file_tokens[id], it->second, /*special=*/false,
                                     /*normalized=*/false});
    }
  }

  // transformers also registers the tokens the file names as BOS, EOS, unk and padding as
  // special (Llama 2's "<unk>" has type UNKNOWN, not CONTROL).
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
    const std::optional<int32_t> id = token_id_key(gguf, key, vocab_size);
    if (!id) continue;
    const bool listed = std::any_of(config.added_tokens.begin(), config.added_tokens.end(),
                                    [&](const AddedToken& t) { return t.content == file_tokens[*id]; });
    if (!listed) {
      config.added_tokens.push_back({file_tokens[*id], *id, /*special=*/true,
                                     /*normalized=*/false});
    }
  }

  try {
    config.model = make_bpe_model(tokens, merges, options);
  } catch (const std::invalid_argument& e) {
    throw ModelLoadError(fmt::format("{}: {}", gguf.path(), e.what()));
  }

  const std::string space = "\u2581";
  std::vector<std::unique_ptr<Decoder>> decoders;
  decoders.push_back(make_replace_decoder(space, " "));
  decoders.push_back(make_byte_fallback_decoder());
  decoders.push_back(make_fuse_decoder());
  if (gemma) {
    config.normalizer = make_replace_normalizer(" ", false, space);
  } else if (phi3) {
    // NOTE: follows transformers' phi3_tokenizer by reading; no Phi-3 GGUF is in the
    // conformance data.
    std::vector<std::unique_ptr<Normalizer>> steps;
    steps.push_back(make_prepend_normalizer(space));
    steps.push_back(make_replace_normalizer(" ", false, space));
    config.normalizer = make_sequence_normalizer(std::move(steps));
    decoders.push_back(make_strip_decoder(" ", 1, 0));
  } else {
    config.pre_tokenizer = make_metaspace_pre_tokenizer(space, "first", false);
    decoders.push_back(make_strip_decoder(" ", 1, 0));
  }
  config.decoder = make_sequence_decoder(std::move(decoders));

  config.bos_token_id = token_id_key(gguf, "tokenizer.ggml.bos_token_id", vocab_size);
  config.eos_token_id = token_id_key(gguf, "tokenizer.ggml.eos_token_id", vocab_size);
  // transformers (like llama.cpp) adds BOS to a SentencePiece vocabulary unless
  // tokenizer.ggml.add_bos_token is false.
  if (gguf.get_bool_or("tokenizer.ggml.add_bos_token").value_or(true) && config.bos_token_id) {
    config.prefix_ids.push_back(*config.bos_token_id);
  }
  if (gguf.get_bool_or("tokenizer.ggml.add_eos_token").value_or(false) && config.eos_token_id) {
    config.suffix_ids.push_back(*config.eos_token_id);
  }
  config.chat_template = gguf.get_string_or("tokenizer.chat_template").value_or("");

  auto tokenizer = std::make_unique<PipelineTokenizer>(std::move(config));
  VLLM_LOG_DEBUG("loaded SentencePiece tokenizer ({}) with {} tokens and {} merges from {}",
                 architecture, vocab_size, merges.size(), gguf.path());
  return tokenizer;
}

}  // namespace vllm
