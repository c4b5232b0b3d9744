// Tokenizer interface used by the engine, the frontends and the server. Results equal HF
// `tokenizers` token for token on the formats each implementation claims.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vllm {

class GGUFFile;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text`. Special and added tokens in the text are split out first, as HF does.
  // With add_special_tokens, BOS/EOS are added as the model's post-processor says.
  virtual std::vector<int32_t> encode(std::string_view text,
                                      bool add_special_tokens = true) const = 0;

  // Decodes ids to text as HF `decode` does (invalid UTF-8 becomes U+FFFD).
  virtual std::string decode(std::span<const int32_t> ids,
                             bool skip_special_tokens = false) const = 0;

  // The vocabulary entry of `id` as stored ("Ġhello" for byte-level BPE); throws
  // InvalidArgument for an id outside [0, vocab_size()).
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;

  // Raw bytes this token contributes to decoded text (may be an incomplete UTF-8 sequence).
  // Special tokens give their content. Used by incremental detokenization.
  virtual std::string token_bytes(int32_t id) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual bool is_special(int32_t id) const = 0;
  virtual std::optional<int32_t> bos_token_id() const = 0;
  virtual std::optional<int32_t> eos_token_id() const = 0;
  // Jinja2 chat template from the model files, empty when there is none.
  virtual const std::string& chat_template() const = 0;
};

// Builds the tokenizer described by a GGUF file's tokenizer.ggml.* metadata; throws
// ModelLoadError for a missing vocabulary or an unsupported model/pre-tokenizer name.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GGUFFile& gguf);

// Loads an HF tokenizer.json (plus tokenizer_config.json beside it when present).
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path);

// Incremental detokenizer: feed generated ids one at a time; each call returns the new
// text that is complete UTF-8. Bytes of a partial character are held until it completes.
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);
  // Returns the text added by `id` (possibly empty while a character is incomplete).
  std::string add_token(int32_t id);
  // Returns held bytes at the end of generation (as U+FFFD where they are invalid).
  std::string flush();
  const std::string& text() const { return text_; }

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::string pending_bytes_;
  std::string text_;
};

}  // namespace vllm
