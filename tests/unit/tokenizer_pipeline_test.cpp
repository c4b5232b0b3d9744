// Unit tests of the tokenizer.json pipeline pieces (normalizers, pre-tokenizers, models,
// decoders) on small cases whose expected values were read off HF `tokenizers` 0.23.3
// (the same calls in Python, in the reference venv).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/piece_pre_tokenizer.h"
#include "tokenizer/token_model.h"

namespace vllm {
namespace {

using namespace std::string_literals;

std::string normalized(const Normalizer& normalizer, std::string text) {
  normalizer.normalize(text);
  return text;
}

std::vector<std::string> pieces_of(const PiecePreTokenizer& pre, const std::string& text) {
  std::vector<Piece> pieces{{text, true}};
  pre.split(pieces);
  std::vector<std::string> out;
  for (const Piece& piece : pieces) out.push_back(piece.text);
  return out;
}

std::string decoded(const Decoder& decoder, std::vector<std::string> tokens) {
  decoder.decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

using Strings = std::vector<std::string>;

TEST(Normalizers, Nfc) {
  EXPECT_EQ(normalized(*make_unicode_normalizer(UnicodeForm::kNfc), "e\u0301"), "\u00e9");
}
TEST(Normalizers, Nfd) {
  EXPECT_EQ(normalized(*make_unicode_normalizer(UnicodeForm::kNfd), "\u00e9"), "e\u0301");
}
TEST(Normalizers, Nfkc) {
  EXPECT_EQ(normalized(*make_unicode_normalizer(UnicodeForm::kNfkc), "\ufb01\u2460"), "fi1");
}
TEST(Normalizers, Nfkd) {
  EXPECT_EQ(normalized(*make_unicode_normalizer(UnicodeForm::kNfkd), "\u00bd\u00e9"),
            "1\u20442e\u0301");
}
TEST(Normalizers, Lowercase) {
  EXPECT_EQ(normalized(*make_lowercase_normalizer(), "\u00c0B\u0130\u03a3\u03a3"),
            "\u00e0bi\u0307\u03c3\u03c3");
}
TEST(Normalizers, Strip) {
  EXPECT_EQ(normalized(*make_strip_normalizer(true, true), " \t a b\u3000\n"), "a b");
  EXPECT_EQ(normalized(*make_strip_normalizer(false, true), "  a  "), "  a");
}
TEST(Normalizers, StripAccents) {
  EXPECT_EQ(normalized(*make_strip_accents_normalizer(), "cafe\u0301 \u00e9"), "cafe \u00e9");
}
TEST(Normalizers, ReplaceString) {
  EXPECT_EQ(normalized(*make_replace_normalizer(" ", false, "\u2581"), " a  b"),
            "\u2581a\u2581\u2581b");
}
TEST(Normalizers, ReplaceRegex) {
  EXPECT_EQ(normalized(*make_replace_normalizer("\\s+", true, " "), "a \t\n b"), "a b");
}
TEST(Normalizers, Prepend) {
  EXPECT_EQ(normalized(*make_prepend_normalizer("\u2581"), "ab"), "\u2581ab");
  EXPECT_EQ(normalized(*make_prepend_normalizer("\u2581"), ""), "");
}
TEST(Normalizers, Bert) {
  // A std::string literal, so that the NUL character stays in the input.
  EXPECT_EQ(normalized(*make_bert_normalizer({}), "H\u00e9llo\t\u4e16\u754c\u0000!\u200b"s),
            "hello  \u4e16  \u754c !");
}
TEST(Normalizers, BertKeepsCase) {
  BertNormalizerOptions options;
  options.lowercase = false;
  options.strip_accents = false;
  EXPECT_EQ(normalized(*make_bert_normalizer(options), "H\u00e9llo\r\n"), "H\u00e9llo  ");
}
TEST(Normalizers, Sequence) {
  std::vector<std::unique_ptr<Normalizer>> steps;
  steps.push_back(make_unicode_normalizer(UnicodeForm::kNfd));
  steps.push_back(make_strip_accents_normalizer());
  steps.push_back(make_lowercase_normalizer());
  EXPECT_EQ(normalized(*make_sequence_normalizer(std::move(steps)), "Caf\u00c9"), "cafe");
}

TEST(PreTokenizers, SplitRemoved) {
  auto pre = make_split_pre_tokenizer("-", false, SplitBehavior::kRemoved, false);
  EXPECT_EQ(pieces_of(*pre, "a-b--c"), (Strings{"a", "b", "c"}));
}
TEST(PreTokenizers, SplitIsolated) {
  auto pre = make_split_pre_tokenizer("-", false, SplitBehavior::kIsolated, false);
  EXPECT_EQ(pieces_of(*pre, "a-b--c"), (Strings{"a", "-", "b", "-", "-", "c"}));
}
TEST(PreTokenizers, SplitMergedWithPrevious) {
  auto pre = make_split_pre_tokenizer("-", false, SplitBehavior::kMergedWithPrevious, false);
  EXPECT_EQ(pieces_of(*pre, "a-b--c"), (Strings{"a-", "b-", "-", "c"}));
}
TEST(PreTokenizers, SplitMergedWithNext) {
  auto pre = make_split_pre_tokenizer("-", false, SplitBehavior::kMergedWithNext, false);
  EXPECT_EQ(pieces_of(*pre, "a-b--c"), (Strings{"a", "-b", "-", "-c"}));
}
TEST(PreTokenizers, SplitContiguous) {
  auto pre = make_split_pre_tokenizer("-", false, SplitBehavior::kContiguous, false);
  EXPECT_EQ(pieces_of(*pre, "a-b--c"), (Strings{"a", "-", "b", "--", "c"}));
}
TEST(PreTokenizers, SplitRegexInverted) {
  auto pre = make_split_pre_tokenizer("\\d+", true, SplitBehavior::kRemoved, true);
  EXPECT_EQ(pieces_of(*pre, "ab12cd345"), (Strings{"12", "345"}));
}
TEST(PreTokenizers, MetaspaceFirst) {
  auto pre = make_metaspace_pre_tokenizer("\u2581", "first", false);
  EXPECT_EQ(pieces_of(*pre, "Hello  world"), (Strings{"\u2581Hello\u2581\u2581world"}));
  std::vector<Piece> later{{"x y", false}};
  pre->split(later);
  EXPECT_EQ(later[0].text, "x\u2581y");
}
TEST(PreTokenizers, MetaspaceSplit) {
  auto pre = make_metaspace_pre_tokenizer("\u2581", "always", true);
  EXPECT_EQ(pieces_of(*pre, "Hello  world"),
            (Strings{"\u2581Hello", "\u2581", "\u2581world"}));
}
TEST(PreTokenizers, Whitespace) {
  EXPECT_EQ(pieces_of(*make_whitespace_pre_tokenizer(), "Hello, world!  ok?"),
            (Strings{"Hello", ",", "world", "!", "ok", "?"}));
}
TEST(PreTokenizers, WhitespaceSplit) {
  EXPECT_EQ(pieces_of(*make_whitespace_split_pre_tokenizer(), " a\tb\u3000c, "),
            (Strings{"a", "b", "c,"}));
}
TEST(PreTokenizers, Bert) {
  EXPECT_EQ(pieces_of(*make_bert_pre_tokenizer(), "Hey friend!  How are you?!?"),
            (Strings{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
}
TEST(PreTokenizers, Punctuation) {
  EXPECT_EQ(pieces_of(*make_punctuation_pre_tokenizer(SplitBehavior::kIsolated), "a,b.\u3002"),
            (Strings{"a", ",", "b", ".", "\u3002"}));
}
TEST(PreTokenizers, DigitsIndividual) {
  EXPECT_EQ(pieces_of(*make_digits_pre_tokenizer(true), "a123b"),
            (Strings{"a", "1", "2", "3", "b"}));
}
TEST(PreTokenizers, DigitsRuns) {
  EXPECT_EQ(pieces_of(*make_digits_pre_tokenizer(false), "a123b"), (Strings{"a", "123", "b"}));
}
TEST(PreTokenizers, ByteLevelPrefixSpace) {
  EXPECT_EQ(pieces_of(*make_byte_level_pre_tokenizer(true, true), "Hello world"),
            (Strings{"\u0120Hello", "\u0120world"}));
}
TEST(PreTokenizers, ByteLevelNoRegex) {
  EXPECT_EQ(pieces_of(*make_byte_level_pre_tokenizer(false, false), "a b\u00e9"),
            (Strings{"a\u0120b\u00c3\u00a9"}));
}

std::vector<int32_t> tokenize(const TokenModel& model, std::string_view piece) {
  std::vector<int32_t> ids;
  model.tokenize(piece, ids);
  return ids;
}

TEST(Models, WordPiece) {
  auto model = make_wordpiece_model({"[UNK]", "un", "##aff", "##able", "a"}, "[UNK]", "##", 100);
  EXPECT_EQ(tokenize(*model, "unaffable"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(tokenize(*model, "unx"), (std::vector<int32_t>{0}));
}
TEST(Models, WordPieceTooLong) {
  auto model = make_wordpiece_model({"[UNK]", "a", "##a"}, "[UNK]", "##", 3);
  EXPECT_EQ(tokenize(*model, "aaa"), (std::vector<int32_t>{1, 2, 2}));
  EXPECT_EQ(tokenize(*model, "aaaa"), (std::vector<int32_t>{0}));
}
TEST(Models, BpeByteFallback) {
  std::vector<std::string> tokens{"<unk>", "a", "b", "ab", "<0xC3>", "<0xA9>"};
  BpeOptions options;
  options.unk_token = "<unk>";
  options.fuse_unk = true;
  options.byte_fallback = true;
  auto model = make_bpe_model(tokens, {{"a", "b"}}, options);
  EXPECT_EQ(tokenize(*model, "ab\u00e9a"), (std::vector<int32_t>{3, 4, 5, 1}));
  // U+00F1 has no byte tokens: unk, fused with the next unknown character.
  EXPECT_EQ(tokenize(*model, "a\u00f1\u00f1b"), (std::vector<int32_t>{1, 0, 2}));
}
TEST(Models, BpeWithoutUnkDrops) {
  auto model = make_bpe_model({"a", "b", "ab"}, {{"a", "b"}}, BpeOptions{});
  // The unknown "x" is dropped, so "a" and "b" become adjacent and merge.
  EXPECT_EQ(tokenize(*model, "axb"), (std::vector<int32_t>{2}));
}
TEST(Models, UnigramViterbi) {
  // "ab" scores -1 against -1.5 for "a" + "b".
  auto model = make_unigram_model({{"<unk>", 0.0}, {"a", -0.5}, {"b", -1.0}, {"ab", -1.0}},
                                  0, false);
  EXPECT_EQ(tokenize(*model, "ab"), (std::vector<int32_t>{3}));
  EXPECT_EQ(tokenize(*model, "ba"), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(tokenize(*model, "axxb"), (std::vector<int32_t>{1, 0, 2}));
}
TEST(Models, UnigramByteFallback) {
  auto model = make_unigram_model({{"<unk>", 0.0}, {"a", -0.5}, {"<0x78>", 0.0}}, 0, true);
  EXPECT_EQ(tokenize(*model, "axy"), (std::vector<int32_t>{1, 0}));
  auto bytes_only = make_unigram_model({{"<unk>", 0.0}, {"a", -0.5}, {"<0x78>", 0.0},
                                        {"<0x79>", 0.0}}, 0, true);
  EXPECT_EQ(tokenize(*bytes_only, "axy"), (std::vector<int32_t>{1, 2, 3}));
}

TEST(Decoders, ByteFallback) {
  EXPECT_EQ(decoded(*make_byte_fallback_decoder(), {"<0xE2>", "<0x96>", "<0x81>", "a", "<0xFF>"}),
            "\u2581a\ufffd");
  EXPECT_EQ(decoded(*make_byte_fallback_decoder(), {"<0xE2>", "<0x96>"}), "\ufffd\ufffd");
}
TEST(Decoders, SentencePieceSequence) {
  std::vector<std::unique_ptr<Decoder>> steps;
  steps.push_back(make_replace_decoder("\u2581", " "));
  steps.push_back(make_byte_fallback_decoder());
  steps.push_back(make_fuse_decoder());
  steps.push_back(make_strip_decoder(" ", 1, 0));
  EXPECT_EQ(decoded(*make_sequence_decoder(std::move(steps)), {"\u2581Hello", "\u2581\u2581w", "<0x21>"}),
            "Hello  w!");
}
TEST(Decoders, Metaspace) {
  EXPECT_EQ(decoded(*make_metaspace_decoder("\u2581", true), {"\u2581Hey", "\u2581friend"}),
            "Hey friend");
  EXPECT_EQ(decoded(*make_metaspace_decoder("\u2581", false), {"\u2581Hey", "\u2581friend"}),
            " Hey friend");
}
TEST(Decoders, WordPiece) {
  EXPECT_EQ(decoded(*make_wordpiece_decoder("##", true),
                    {"un", "##aff", "##able", ",", "do", "n't", "!"}),
            "unaffable, don't!");
  EXPECT_EQ(decoded(*make_wordpiece_decoder("##", false), {"a", "##b", "."}), "ab .");
}
TEST(Decoders, ByteLevel) {
  EXPECT_EQ(decoded(*make_byte_level_decoder(), {"\u0120h\u00c3", "\u00a9"}), " h\u00e9");
}

}  // namespace
}  // namespace vllm
