// Decoders of the general tokenizer.json pipeline: turn the vocabulary strings of decoded
// ids into text. Each mirrors the HF decoder of the same name; HF joins what the last step
// returns.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace vllm {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the list of token strings (HF decode_chain).
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// ByteLevel: maps GPT-2 alphabet characters back to bytes; one lossy UTF-8 string results.
std::unique_ptr<Decoder> make_byte_level_decoder();
// ByteFallback: runs of <0xXX> tokens become their bytes when those are valid UTF-8,
// otherwise one U+FFFD per byte.
std::unique_ptr<Decoder> make_byte_fallback_decoder();
// Fuse: all tokens become one string.
std::unique_ptr<Decoder> make_fuse_decoder();
// Strip: removes up to `start` leading and `stop` trailing `content` characters per token.
std::unique_ptr<Decoder> make_strip_decoder(std::string content, size_t start, size_t stop);
// Replace: a literal string becomes `content` in every token.
std::unique_ptr<Decoder> make_replace_decoder(std::string pattern, std::string content);
// Metaspace: `replacement` becomes ' '; in the first token it is dropped instead unless
// prepend_scheme is "never".
std::unique_ptr<Decoder> make_metaspace_decoder(std::string replacement, bool drop_first);
// WordPiece: tokens after the first get a space unless they start with `prefix`, which is
// removed. With `cleanup`, spaces before punctuation and in contractions are removed.
std::unique_ptr<Decoder> make_wordpiece_decoder(std::string prefix, bool cleanup);
std::unique_ptr<Decoder> make_sequence_decoder(std::vector<std::unique_ptr<Decoder>> steps);

}  // namespace vllm
