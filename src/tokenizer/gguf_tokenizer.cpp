// Loader of the tokenizer stored in GGUF metadata (tokenizer.ggml.*), for llama.cpp's
// "gpt2" (byte-level BPE) tokenizer model. Token strings in the file are already in GPT-2's
// byte alphabet; token types mark control (special) and user-defined (added) tokens.
#include <algorithm>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/gguf_sentencepiece.h"
#include "tokenizer/tokenizer.h"

namespace vllm {
namespace {

// llama.cpp's token types.
enum GgufTokenType : int64_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

std::optional<int32_t> optional_token_id(const GGUFFile& gguf, std::string_view key,
                                         int32_t vocab_size) {
  const std::optional<int64_t> id = gguf.get_int_or(key);
  if (!id) return std::nullopt;
  if (*id < 0 || *id >= vocab_size) {
    throw ModelLoadError(fmt::format("{}: {} = {} is outside the vocabulary of {} tokens",
                                     gguf.path(), key, *id, vocab_size));
  }
  return static_cast<int32_t>(*id);
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GGUFFile& gguf) {
  const std::optional<std::string> model_name = gguf.get_string_or("tokenizer.ggml.model");
  if (!model_name) {
    throw ModelLoadError(fmt::format("{}: missing key tokenizer.ggml.model; the file has no "
                                     "tokenizer, pass a tokenizer directory instead",
                                     gguf.path()));
  }
  if (*model_name == "llama") return load_gguf_sentencepiece_tokenizer(gguf);
  if (*model_name != "gpt2") {
    throw ModelLoadError(fmt::format("{}: tokenizer.ggml.model '{}' is not supported "
                                     "(supported: gpt2, llama)", gguf.path(), *model_name));
  }
  const std::string pre_name = gguf.get_string_or("tokenizer.ggml.pre").value_or("default");

  ByteLevelBpeConfig config;
  config.source = gguf.path();
  config.pre_tokenizer = make_gguf_pre_tokenizer(pre_name);
  if (!config.pre_tokenizer) {
    throw ModelLoadError(fmt::format("{}: tokenizer.ggml.pre '{}' is not supported "
                                     "(supported: {})", gguf.path(), pre_name,
                                     kSupportedGgufPreNames));
  }

  config.tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  const int32_t vocab_size = static_cast<int32_t>(config.tokens.size());
  std::vector<int64_t> token_types;
  if (gguf.find("tokenizer.ggml.token_type") != nullptr) {
    token_types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (token_types.size() != config.tokens.size()) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.token_type has {} entries but "
                                       "tokenizer.ggml.tokens has {}", gguf.path(),
                                       token_types.size(), config.tokens.size()));
    }
  }
  for (int32_t id = 0; id < static_cast<int32_t>(token_types.size()); ++id) {
    const int64_t type = token_types[id];
    // Control and unknown tokens are special, as HF marks them; user-defined tokens are
    // plain added tokens, stored as raw text.
    if (type == kControl || type == kUnknown) {
      config.added_tokens.push_back({config.tokens[id], id, /*special=*/true,
                                     /*normalized=*/false});
    } else if (type == kUserDefined) {
      config.added_tokens.push_back({config.tokens[id], id, /*special=*/false,
                                     /*normalized=*/true});
    }
  }

  // transformers' GPT2Tokenizer takes "<|endoftext|>" as its unk token when the file names
  // none. A vocabulary without that string (Llama 3) gets it appended as a special token,
  // so the text "<|endoftext|>" encodes to an id one past the file's vocabulary there too.
  const std::string kGpt2Unk = "<|endoftext|>";
  if (!gguf.get_int_or("tokenizer.ggml.unknown_token_id") &&
      std::find(config.tokens.begin(), config.tokens.end(), kGpt2Unk) == config.tokens.end()) {
    config.tokens.push_back(kGpt2Unk);
    config.added_tokens.push_back({kGpt2Unk, vocab_size, /*special=*/true, /*normalized=*/false});
  }

  const std::vector<std::string> merges = gguf.get_string_array("tokenizer.ggml.merges");
  config.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const size_t space = merges[i].find(' ');
    if (space == std::string::npos) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.merges[{}] '{}' is not "
                                       "'left right'", gguf.path(), i, merges[i]));
    }
    config.merges.emplace_back(merges[i].substr(0, space), merges[i].substr(space + 1));
  }

  config.bos_token_id = optional_token_id(gguf, "tokenizer.ggml.bos_token_id", vocab_size);
  config.eos_token_id = optional_token_id(gguf, "tokenizer.ggml.eos_token_id", vocab_size);
  // llama.cpp adds neither BOS nor EOS for gpt2 vocabularies unless these keys are true.
  if (gguf.get_bool_or("tokenizer.ggml.add_bos_token").value_or(false)) {
    if (!config.bos_token_id) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.add_bos_token is true but "
                                       "tokenizer.ggml.bos_token_id is missing", gguf.path()));
    }
    config.prefix_ids.push_back(*config.bos_token_id);
  }
  if (gguf.get_bool_or("tokenizer.ggml.add_eos_token").value_or(false)) {
    if (!config.eos_token_id) {
      throw ModelLoadError(fmt::format("{}: tokenizer.ggml.add_eos_token is true but "
                                       "tokenizer.ggml.eos_token_id is missing", gguf.path()));
    }
    config.suffix_ids.push_back(*config.eos_token_id);
  }
  config.chat_template = gguf.get_string_or("tokenizer.chat_template").value_or("");

  auto tokenizer = std::make_unique<ByteLevelBpeTokenizer>(std::move(config));
  VLLM_LOG_DEBUG("loaded {} tokenizer (pre '{}') with {} tokens from {}", *model_name,
                 pre_name, vocab_size, gguf.path());
  return tokenizer;
}

}  // namespace vllm
