// Tokenizer conformance against HF `tokenizers` goldens (tests/data/smollm2, written by
// tools/make_smollm2_tokenizer.py and tools/make_tokenizer_goldens.py), for both the
// tokenizer.json and the GGUF loaders.
#include <gtest/gtest.h>

#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "model_loader/gguf.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace vllm {
namespace {

using nlohmann::json;

const std::string kDataDir = std::string(VLLM_TEST_DATA_DIR) + "/smollm2";

json read_json(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return json::parse(buffer.str());
}

const json& cases() {
  static const json data = read_json(kDataDir + "/tokenizer_cases.json");
  return data;
}

const Tokenizer& hf_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer =
      load_hf_tokenizer(kDataDir + "/tokenizer.json");
  return *tokenizer;
}

const Tokenizer& gguf_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer =
      load_gguf_tokenizer(*GGUFFile::open(kDataDir + "/tokenizer.gguf"));
  return *tokenizer;
}

std::vector<int32_t> ids_of(const json& array) { return array.get<std::vector<int32_t>>(); }

std::string printable(const std::string& text) { return json(text).dump(); }

void expect_encode_matches(const Tokenizer& tokenizer) {
  ASSERT_GE(cases()["encode"].size(), 300u);
  for (const json& c : cases()["encode"]) {
    const std::string text = c["text"].get<std::string>();
    SCOPED_TRACE(printable(text));
    EXPECT_EQ(tokenizer.encode(text, true), ids_of(c["ids"]));
    EXPECT_EQ(tokenizer.encode(text, false), ids_of(c["ids_no_special"]));
  }
}

TEST(Tokenizer, EncodeMatchesHfJson) { expect_encode_matches(hf_tokenizer()); }

TEST(Tokenizer, EncodeMatchesHfGguf) { expect_encode_matches(gguf_tokenizer()); }

void expect_decode_matches(const Tokenizer& tokenizer) {
  for (const char* kind : {"encode", "decode"}) {
    for (const json& c : cases()[kind]) {
      const std::vector<int32_t> ids = ids_of(c["ids"]);
      SCOPED_TRACE(c["ids"].dump());
      EXPECT_EQ(tokenizer.decode(ids, false), c["decoded"].get<std::string>());
      EXPECT_EQ(tokenizer.decode(ids, true), c["decoded_skip_special"].get<std::string>());
    }
  }
}

TEST(Tokenizer, AddedTokenOptionsMatchHf) {
  // lstrip, rstrip, single_word, normalized (second pass) and ids past the model vocab.
  const auto tokenizer = load_hf_tokenizer(kDataDir + "/added_tokens/tokenizer.json");
  ASSERT_GE(cases()["added_tokens"].size(), 40u);
  for (const json& c : cases()["added_tokens"]) {
    const std::string text = c["text"].get<std::string>();
    SCOPED_TRACE(printable(text));
    const std::vector<int32_t> ids = tokenizer->encode(text, true);
    EXPECT_EQ(ids, ids_of(c["ids"]));
    EXPECT_EQ(tokenizer->encode(text, false), ids_of(c["ids_no_special"]));
    EXPECT_EQ(tokenizer->decode(ids, false), c["decoded"].get<std::string>());
    EXPECT_EQ(tokenizer->decode(ids, true), c["decoded_skip_special"].get<std::string>());
  }
}

TEST(Tokenizer, DecodeMatchesHfJson) { expect_decode_matches(hf_tokenizer()); }

TEST(Tokenizer, DecodeMatchesHfGguf) { expect_decode_matches(gguf_tokenizer()); }

TEST(Tokenizer, DecodeRoundTripsText) {
  // Byte-level BPE loses nothing: decoding the ids gives back the text.
  for (const json& c : cases()["encode"]) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(hf_tokenizer().decode(hf_tokenizer().encode(text, false)), text)
        << printable(text);
  }
}

TEST(Tokenizer, LoadersAgreeOnVocabulary) {
  const Tokenizer& hf = hf_tokenizer();
  const Tokenizer& gguf = gguf_tokenizer();
  ASSERT_EQ(hf.vocab_size(), 49152);
  ASSERT_EQ(gguf.vocab_size(), hf.vocab_size());
  for (int32_t id = 0; id < hf.vocab_size(); ++id) {
    ASSERT_EQ(hf.id_to_token(id), gguf.id_to_token(id)) << id;
    ASSERT_EQ(hf.is_special(id), gguf.is_special(id)) << id;
    ASSERT_EQ(hf.token_bytes(id), gguf.token_bytes(id)) << id;
    ASSERT_EQ(hf.token_to_id(hf.id_to_token(id)), id) << id;
  }
}

TEST(Tokenizer, SpecialTokenMetadata) {
  // Values from the model's GGUF metadata and the generated tokenizer_config.json.
  for (const Tokenizer* tokenizer : {&hf_tokenizer(), &gguf_tokenizer()}) {
    EXPECT_EQ(tokenizer->bos_token_id(), 1);
    EXPECT_EQ(tokenizer->eos_token_id(), 2);
    EXPECT_EQ(tokenizer->token_to_id("<|im_start|>"), 1);
    EXPECT_TRUE(tokenizer->is_special(2));
    EXPECT_FALSE(tokenizer->is_special(17));
    EXPECT_NE(tokenizer->chat_template().find("<|im_start|>"), std::string::npos);
  }
  EXPECT_EQ(hf_tokenizer().chat_template(), gguf_tokenizer().chat_template());
}

// Feeds ids one at a time and checks the chunks against decode.
void expect_incremental_matches(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                                bool skip_special_tokens) {
  IncrementalDetokenizer detokenizer(tokenizer, skip_special_tokens);
  std::string joined;
  for (int32_t id : ids) {
    const std::string chunk = detokenizer.add_token(id);
    EXPECT_TRUE(utf8::is_valid(chunk)) << printable(chunk);
    if (skip_special_tokens && tokenizer.is_special(id)) EXPECT_EQ(chunk, "");
    joined += chunk;
  }
  const std::string tail = detokenizer.flush();
  EXPECT_TRUE(utf8::is_valid(tail));
  joined += tail;
  EXPECT_EQ(joined, tokenizer.decode(ids, skip_special_tokens));
  EXPECT_EQ(detokenizer.text(), joined);
}

TEST(Tokenizer, IncrementalMatchesDecode) {
  for (const char* kind : {"encode", "decode"}) {
    for (const json& c : cases()[kind]) {
      SCOPED_TRACE(c["ids"].dump());
      const std::vector<int32_t> ids = ids_of(c["ids"]);
      expect_incremental_matches(hf_tokenizer(), ids, false);
      expect_incremental_matches(hf_tokenizer(), ids, true);
    }
  }
}

TEST(Tokenizer, IncrementalHoldsPartialCharacter) {
  // "😀" is four bytes; byte-level BPE spreads it over several tokens.
  const std::vector<int32_t> ids = hf_tokenizer().encode("\xF0\x9F\x98\x80", false);
  ASSERT_GT(ids.size(), 1u);
  IncrementalDetokenizer detokenizer(hf_tokenizer(), false);
  for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(detokenizer.add_token(ids[i]), "");
  EXPECT_EQ(detokenizer.add_token(ids.back()), "\xF0\x9F\x98\x80");
  EXPECT_EQ(detokenizer.flush(), "");
}

TEST(Tokenizer, LossyDecodeMaximalSubparts) {
  // Unicode's "maximal subpart" replacement, as Rust's from_utf8_lossy applies it.
  EXPECT_EQ(utf8::to_valid_lossy("a\xE2\x82"), "a\xEF\xBF\xBD");
  EXPECT_EQ(utf8::to_valid_lossy("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::to_valid_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::to_valid_lossy("\xF4\x90\x80\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::to_valid_lossy("\xF0\x9F\x98x"), "\xEF\xBF\xBDx");
}

// HF's character classes for every code point (from hf_char_classes.json).
std::vector<bool> hf_class(const std::string& name) {
  static const json classes = read_json(kDataDir + "/hf_char_classes.json");
  std::vector<bool> member(0x110000, false);
  for (const json& range : classes[name]) {
    for (int c = range[0].get<int>(); c <= range[1].get<int>(); ++c) member[c] = true;
  }
  return member;
}

TEST(Tokenizer, CharClassesMatchHf) {
  // Probes as the golden script does. "x" + c stays one piece exactly when c is a letter,
  // "5" + c when c is a number and "\t" + c when c is white space. Digits isolates c exactly
  // when c is numeric.
  const RegexPreTokenizer gpt2(kGpt2SplitPattern);
  const DigitsPreTokenizer digits(true);
  const std::vector<bool> letter = hf_class("letter");
  const std::vector<bool> number = hf_class("number");
  const std::vector<bool> space = hf_class("space");
  const std::vector<bool> numeric = hf_class("numeric");
  std::vector<TextSpan> pieces;
  int num_mismatches = 0;
  for (char32_t c = 0; c < 0x110000 && num_mismatches < 20; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string ch;
    utf8::append_code_point(ch, c);
    auto joined = [&](const std::string& prefix) {
      const std::string probe = prefix + ch;
      pieces.clear();
      gpt2.split(probe, {0, probe.size()}, pieces);
      return pieces.size() == 1;
    };
    const std::string probe = "a" + ch + "a";
    pieces.clear();
    digits.split(probe, {0, probe.size()}, pieces);
    const bool isolated = pieces.size() == 3;
    const bool ok = joined("x") == letter[c] && joined("5") == number[c] &&
                    joined("\t") == space[c] && isolated == numeric[c];
    if (!ok) {
      ++num_mismatches;
      ADD_FAILURE() << "class mismatch at U+" << std::hex << static_cast<uint32_t>(c);
    }
  }
  EXPECT_EQ(num_mismatches, 0);
}

TEST(Tokenizer, OutOfRangeIdsThrow) {
  const Tokenizer& tokenizer = hf_tokenizer();
  const std::vector<int32_t> ids = {5, 49152};
  try {
    tokenizer.decode(ids);
    FAIL() << "decode accepted id 49152";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("49152"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tokenizer.id_to_token(-1), InvalidArgument);
  EXPECT_THROW(tokenizer.token_bytes(49152), InvalidArgument);
  IncrementalDetokenizer detokenizer(tokenizer, false);
  EXPECT_THROW(detokenizer.add_token(-3), InvalidArgument);
}

TEST(Tokenizer, InvalidUtf8TextThrows) {
  EXPECT_THROW(hf_tokenizer().encode("abc\xFF"), InvalidArgument);
  EXPECT_THROW(hf_tokenizer().encode("\xED\xA0\x80"), InvalidArgument);
  EXPECT_THROW(hf_tokenizer().encode("\xE4\xBD"), InvalidArgument);
}

class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content)
      : dir_(std::filesystem::temp_directory_path() /
             ("tokenizer_test_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / name).string();
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

std::string load_error(const std::string& path) {
  try {
    load_hf_tokenizer(path);
  } catch (const ModelLoadError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Tokenizer, HfJsonNotJsonThrows) {
  TempFile file("tokenizer.json", "{ not json");
  const std::string message = load_error(file.path());
  EXPECT_NE(message.find(file.path()), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
}

TEST(Tokenizer, HfJsonMissingVocabThrows) {
  TempFile file("tokenizer.json", R"({"model": {"type": "BPE", "merges": []}})");
  const std::string message = load_error(file.path());
  EXPECT_NE(message.find(file.path()), std::string::npos) << message;
  EXPECT_NE(message.find("model.vocab"), std::string::npos) << message;
}

TEST(Tokenizer, HfJsonUnsupportedModelThrows) {
  TempFile file("tokenizer.json",
                R"({"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}})");
  const std::string message = load_error(file.path());
  EXPECT_NE(message.find("WordLevel"), std::string::npos) << message;
}

// Numbers that do not fit the field (found by fuzzing: converting 2e124 to int is
// undefined) are rejected with the field named.
TEST(Tokenizer, HfJsonFloatIdsThrow) {
  const std::string model =
      R"("model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1})";
  TempFile processor("tokenizer.json",
                     "{" + model + R"(}, "post_processor": {"type": "BertProcessing",
                     "sep": ["[SEP]", 2e124], "cls": ["[CLS]", 1]}})");
  const std::string processor_message = load_error(processor.path());
  EXPECT_NE(processor_message.find("post_processor has invalid token id"), std::string::npos)
      << processor_message;
  TempFile strip("tokenizer.json", "{" + model + R"(}, "decoder": {"type": "Strip",
                 "content": " ", "start": 1.5e300, "stop": 0}})");
  const std::string strip_message = load_error(strip.path());
  EXPECT_NE(strip_message.find("'start'"), std::string::npos) << strip_message;
}

TEST(Tokenizer, HfJsonUnsupportedPreTokenizerThrows) {
  TempFile file("tokenizer.json",
                R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                    "decoder": {"type": "ByteLevel"},
                    "pre_tokenizer": {"type": "UnicodeScripts"}})");
  const std::string message = load_error(file.path());
  EXPECT_NE(message.find("UnicodeScripts"), std::string::npos) << message;
}

// A WordPiece tokenizer.json with a tokenizer_config.json beside it. Expected values from
// transformers 5.25 AutoTokenizer on the same two files: added_tokens_decoder adds "<tool>"
// as a special token, and add_bos_token / add_eos_token leave the (null) post-processor
// adding nothing.
TEST(Tokenizer, HfConfigAddsTokensKeepsPostProcessor) {
  TempFile json_file("tokenizer.json", R"({
    "added_tokens": [
      {"id": 1, "content": "<s>", "special": true, "normalized": false},
      {"id": 2, "content": "</s>", "special": true, "normalized": false}],
    "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "WhitespaceSplit"},
    "post_processor": null, "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[UNK]": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "##b": 5}}})");
  const std::string config_path =
      (std::filesystem::path(json_file.path()).parent_path() / "tokenizer_config.json").string();
  std::ofstream(config_path) << R"({"add_bos_token": true, "add_eos_token": true,
    "bos_token": "<s>", "eos_token": "</s>",
    "added_tokens_decoder": {"6": {"content": "<tool>", "special": true, "normalized": false}}})";
  const auto tokenizer = load_hf_tokenizer(json_file.path());
  const std::vector<int32_t> ids = tokenizer->encode("A ab<tool>b");
  EXPECT_EQ(ids, (std::vector<int32_t>{3, 3, 5, 6, 4}));
  EXPECT_EQ(tokenizer->decode(ids, false), "a ab <tool> b");
  EXPECT_EQ(tokenizer->decode(ids, true), "a ab b");
  EXPECT_TRUE(tokenizer->is_special(6));
  EXPECT_EQ(tokenizer->bos_token_id(), 1);
  EXPECT_EQ(tokenizer->eos_token_id(), 2);
}

TEST(Tokenizer, HfJsonMissingFileThrows) {
  EXPECT_THROW(load_hf_tokenizer(kDataDir + "/does_not_exist.json"), ModelLoadError);
}

TEST(Tokenizer, GgufUnknownPreThrows) {
  const auto gguf = GGUFFile::open(kDataDir + "/bad_pre.gguf");
  try {
    load_gguf_tokenizer(*gguf);
    FAIL() << "chatglm-bpe pre-tokenizer accepted";
  } catch (const ModelLoadError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("chatglm-bpe"), std::string::npos) << message;
    EXPECT_NE(message.find("smollm"), std::string::npos) << message;
  }
}

TEST(Tokenizer, LongInputsEncode) {
  const std::vector<std::string> texts = {std::string(200000, ' '), std::string(100000, 'a'),
                                          std::string(50000, '\n') + "x",
                                          std::string(30000, '7')};
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = hf_tokenizer().encode(text, false);
    EXPECT_EQ(hf_tokenizer().decode(ids), text);
  }
}

TEST(Tokenizer, ThreadsGiveSameIds) {
  std::vector<std::string> texts;
  for (const json& c : cases()["encode"]) texts.push_back(c["text"].get<std::string>());
  std::vector<std::vector<int32_t>> results[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (const std::string& text : texts) results[t].push_back(gguf_tokenizer().encode(text));
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(results[0], results[1]);
}

// CPU time of the calling thread, so that the figure holds on a loaded machine.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec * 1e-9;
}

TEST(Tokenizer, EncodeThroughput) {
  // Encodes about 1 MB of the golden texts, repeated, and prints the speed without asserting
  // it. The first pass starts with an empty word cache and the second finds every piece.
  const auto tokenizer = load_hf_tokenizer(kDataDir + "/tokenizer.json");
  std::string text;
  while (text.size() < (1u << 20)) {
    for (const json& c : cases()["encode"]) {
      text += c["text"].get<std::string>();
      text += "\n";
    }
  }
  for (const char* pass : {"cold cache", "warm cache"}) {
    const double start = thread_cpu_seconds();
    const std::vector<int32_t> ids = tokenizer->encode(text, false);
    const double seconds = thread_cpu_seconds() - start;
    EXPECT_GT(ids.size(), 0u);
    std::printf("encode (%s): %zu bytes -> %zu tokens in %.3f s CPU (%.1f MB/s)\n", pass,
                text.size(), ids.size(), seconds, text.size() / seconds / 1e6);
  }
}

}  // namespace
}  // namespace vllm
