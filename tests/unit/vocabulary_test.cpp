#include "tokenizer/vocabulary.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/bpe_model.h"

namespace {

using vllm::Vocabulary;

TEST(VocabularyTest, FindsEveryTokenAndNothingElse) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 5000; ++i) tokens.push_back("t" + std::to_string(i));
  const Vocabulary vocab(tokens);
  ASSERT_EQ(vocab.size(), 5000);
  for (int i = 0; i < 5000; ++i) EXPECT_EQ(vocab.find(tokens[i]), i) << tokens[i];
  EXPECT_FALSE(vocab.find("t5000").has_value());
  EXPECT_FALSE(vocab.find("t").has_value());
  EXPECT_FALSE(vocab.find("").has_value());
}

TEST(VocabularyTest, LaterDuplicateWinsAndEmptyIdsAreUnused) {
  const Vocabulary vocab(std::vector<std::string>{"a", "", "b", "a", ""});
  EXPECT_EQ(vocab.find("a"), 3);
  EXPECT_EQ(vocab.find("b"), 2);
  EXPECT_FALSE(vocab.find("").has_value());
  EXPECT_EQ(vocab.tokens()[1], "");
}

TEST(VocabularyTest, EmptyVocabularyFindsNothing) {
  const Vocabulary vocab(std::vector<std::string>{});
  EXPECT_FALSE(vocab.find("a").has_value());
  const Vocabulary default_vocab;
  EXPECT_FALSE(default_vocab.find("a").has_value());
}

// The merges are stored grouped by left id; the lowest rank still merges first, and a
// repeated merge takes its later rank, as in HF.
TEST(BpeModelTest, RepeatedMergeKeepsLaterRank) {
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "bc", "abc"};
  std::vector<std::pair<std::string, std::string>> merges = {{"b", "c"}, {"a", "b"}};
  const std::vector<int32_t> abc = {0, 1, 2};
  std::vector<int32_t> out;
  vllm::BpeModel(tokens, merges).merge(abc, out);  // b c (rank 0) first
  EXPECT_EQ(out, (std::vector<int32_t>{0, 4}));

  merges.push_back({"b", "c"});  // now rank 2, after a b
  out.clear();
  vllm::BpeModel(tokens, merges).merge(abc, out);
  EXPECT_EQ(out, (std::vector<int32_t>{3, 2}));

  merges.push_back({"ab", "c"});
  out.clear();
  vllm::BpeModel(tokens, merges).merge(abc, out);
  EXPECT_EQ(out, std::vector<int32_t>{5});
  out.clear();
  vllm::BpeModel(tokens, merges).merge(std::vector<int32_t>{2, 0}, out);  // no rule for c a
  EXPECT_EQ(out, (std::vector<int32_t>{2, 0}));
}

}  // namespace
