// GGUF "llama" tokenizers (SentencePiece vocabularies: scores, token types, <0xXX> byte
// tokens) built as transformers builds them from the same file: BPE with byte fallback,
// merges recovered from the vocabulary, Metaspace or Gemma's space replacement.
#pragma once

#include <memory>

#include "tokenizer/tokenizer.h"

namespace vllm {

class GGUFFile;

// Throws ModelLoadError for missing or inconsistent tokenizer.ggml.* arrays.
std::unique_ptr<Tokenizer> load_gguf_sentencepiece_tokenizer(const GGUFFile& gguf);

}  // namespace vllm
