// Safetensors parsing, single-file and sharded checkpoints, and weight access by HF name,
// on small files that each test writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/errors.h"
#include "kernels/cpu/half.h"
#include "model_loader/safetensors.h"
#include "models/hf_weights.h"
#include "safetensors_writer.h"

namespace vllm {
namespace {

namespace fs = std::filesystem;
using testing::f32_bytes;
using testing::safetensors_bytes;
using testing::safetensors_bytes_from_header;
using testing::TensorToWrite;
using testing::write_file_bytes;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Returns the ModelLoadError message of parsing `bytes`, or "" when parsing succeeds.
std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    parse_safetensors_header(bytes, "test.safetensors");
  } catch (const ModelLoadError& error) {
    return error.what();
  }
  return "";
}

std::vector<uint8_t> bf16_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes;
  for (float value : values) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    bytes.push_back(static_cast<uint8_t>(bits >> 16));
    bytes.push_back(static_cast<uint8_t>(bits >> 24));
  }
  return bytes;
}

class SafetensorsDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vllm_safetensors_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::vector<uint8_t>& bytes) {
    write_file_bytes((dir_ / name).string(), bytes);
  }
  void write_text(const std::string& name, const std::string& text) {
    write(name, std::vector<uint8_t>(text.begin(), text.end()));
  }
  std::string open_error() {
    try {
      SafetensorsCheckpoint::open(dir_.string());
    } catch (const ModelLoadError& error) {
      return error.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST(SafetensorsHeader, ParsesTensors) {
  const auto bytes = safetensors_bytes({
      {"a", "F32", {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6})},
      {"b", "BF16", {4}, bf16_bytes({1, 2, 3, 4})},
  });
  const auto tensors = parse_safetensors_header(bytes, "x");
  ASSERT_EQ(tensors.size(), 2u);  // __metadata__ is not a tensor
  const uint64_t header_length = bytes[0] | (uint64_t{bytes[1]} << 8);
  EXPECT_EQ(tensors[0].name, "a");
  EXPECT_EQ(tensors[0].dtype, "F32");
  EXPECT_EQ(tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tensors[0].begin, 8 + header_length);
  EXPECT_EQ(tensors[0].end, 8 + header_length + 24);
  EXPECT_EQ(tensors[1].name, "b");
  EXPECT_EQ(tensors[1].begin, tensors[0].end);
  EXPECT_EQ(tensors[1].end, bytes.size());
}

TEST(SafetensorsHeader, ScalarAndEmptyTensors) {
  const auto bytes = safetensors_bytes({
      {"scalar", "F32", {}, f32_bytes({7})},
      {"empty", "F32", {0, 4}, {}},
  });
  const auto tensors = parse_safetensors_header(bytes, "x");
  ASSERT_EQ(tensors.size(), 2u);
}

TEST(SafetensorsHeader, TooShort) {
  const std::string message = parse_error({1, 2, 3});
  EXPECT_TRUE(contains(message, "test.safetensors")) << message;
  EXPECT_TRUE(contains(message, "too short")) << message;
}

TEST(SafetensorsHeader, LengthBeyondFile) {
  auto bytes = safetensors_bytes({{"a", "F32", {1}, f32_bytes({1})}});
  bytes[5] = 1;  // header length of about 2^40
  const std::string message = parse_error(bytes);
  EXPECT_TRUE(contains(message, "header length")) << message;
}

TEST(SafetensorsHeader, InvalidJson) {
  const std::string message = parse_error(safetensors_bytes_from_header("{\"a\": [", {}));
  EXPECT_TRUE(contains(message, "not valid JSON")) << message;
}

TEST(SafetensorsHeader, NotAnObject) {
  const std::string message = parse_error(safetensors_bytes_from_header("[1, 2]", {}));
  EXPECT_TRUE(contains(message, "expected an object")) << message;
}

TEST(SafetensorsHeader, UnknownDtype) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}})", {0, 0, 0, 0}));
  EXPECT_TRUE(contains(message, "'w'")) << message;
  EXPECT_TRUE(contains(message, "F12")) << message;
}

TEST(SafetensorsHeader, MissingShape) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", {0, 0, 0, 0}));
  EXPECT_TRUE(contains(message, "'w'")) << message;
  EXPECT_TRUE(contains(message, "shape")) << message;
}

TEST(SafetensorsHeader, NegativeDimension) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", {0, 0, 0, 0}));
  EXPECT_TRUE(contains(message, "'w'")) << message;
  EXPECT_TRUE(contains(message, "shape dimension")) << message;
}

TEST(SafetensorsHeader, OffsetsOutsideFile) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", {0, 0, 0, 0}));
  EXPECT_TRUE(contains(message, "'w'")) << message;
  EXPECT_TRUE(contains(message, "outside")) << message;
}

TEST(SafetensorsHeader, EndBeforeBegin) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}})", {0, 0, 0, 0}));
  EXPECT_TRUE(contains(message, "'w'")) << message;
  EXPECT_TRUE(contains(message, "end before begin")) << message;
}

TEST(SafetensorsHeader, SizeMismatch) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
      std::vector<uint8_t>(8)));
  EXPECT_TRUE(contains(message, "'w'")) << message;
  EXPECT_TRUE(contains(message, "8 bytes")) << message;
}

TEST(SafetensorsHeader, ShapeOverflow) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 4]}})",
      std::vector<uint8_t>(4)));
  EXPECT_TRUE(contains(message, "'w'")) << message;
}

TEST(SafetensorsHeader, OverlappingTensors) {
  const std::string message = parse_error(safetensors_bytes_from_header(
      R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
      std::vector<uint8_t>(12)));
  EXPECT_TRUE(contains(message, "'b'")) << message;
  EXPECT_TRUE(contains(message, "overlaps")) << message;
}

TEST_F(SafetensorsDirTest, SingleFile) {
  write("model.safetensors", safetensors_bytes({{"w", "F32", {2}, f32_bytes({1, 2})}}));
  const auto checkpoint = SafetensorsCheckpoint::open(dir_.string());
  const auto [info, file] = checkpoint->find("w");
  ASSERT_NE(info, nullptr);
  const auto data = file->tensor_data(*info);
  ASSERT_EQ(data.size(), 8u);
  float second;
  std::memcpy(&second, data.data() + 4, sizeof(second));
  EXPECT_EQ(second, 2.0f);
  EXPECT_EQ(checkpoint->find("x").first, nullptr);
}

TEST_F(SafetensorsDirTest, Sharded) {
  write("model-00001-of-00002.safetensors",
        safetensors_bytes({{"a", "F32", {1}, f32_bytes({1})}}));
  write("model-00002-of-00002.safetensors",
        safetensors_bytes({{"b", "F32", {1}, f32_bytes({2})}}));
  write_text("model.safetensors.index.json",
             R"({"metadata": {"total_size": 8}, "weight_map": {
                 "a": "model-00001-of-00002.safetensors",
                 "b": "model-00002-of-00002.safetensors"}})");
  const auto checkpoint = SafetensorsCheckpoint::open(dir_.string());
  EXPECT_EQ(checkpoint->tensor_names(), (std::vector<std::string>{"a", "b"}));
  ASSERT_NE(checkpoint->find("b").second, nullptr);
  EXPECT_TRUE(contains(checkpoint->find("b").second->path(), "00002")) << "wrong shard";
}

TEST_F(SafetensorsDirTest, MissingShard) {
  write("model-00001-of-00002.safetensors",
        safetensors_bytes({{"a", "F32", {1}, f32_bytes({1})}}));
  write_text("model.safetensors.index.json",
             R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                "b": "model-00002-of-00002.safetensors"}})");
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "model-00002-of-00002.safetensors")) << message;
  EXPECT_TRUE(contains(message, "missing")) << message;
}

TEST_F(SafetensorsDirTest, IndexNamesWrongShard) {
  write("one.safetensors", safetensors_bytes({{"a", "F32", {1}, f32_bytes({1})}}));
  write("two.safetensors", safetensors_bytes({{"b", "F32", {1}, f32_bytes({1})}}));
  write_text("model.safetensors.index.json",
             R"({"weight_map": {"a": "two.safetensors", "b": "two.safetensors"}})");
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "'a'")) << message;
}

TEST_F(SafetensorsDirTest, TensorInTwoShards) {
  write("one.safetensors", safetensors_bytes({{"a", "F32", {1}, f32_bytes({1})}}));
  write("two.safetensors", safetensors_bytes({{"a", "F32", {1}, f32_bytes({1})}}));
  write_text("model.safetensors.index.json",
             R"({"weight_map": {"a": "one.safetensors", "b": "two.safetensors"}})");
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "'a'")) << message;
  EXPECT_TRUE(contains(message, "both")) << message;
}

TEST_F(SafetensorsDirTest, ShardOutsideDirectory) {
  write_text("model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "../x.safetensors")) << message;
}

TEST_F(SafetensorsDirTest, NoWeights) {
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "model.safetensors")) << message;
  EXPECT_TRUE(contains(message, dir_.string())) << message;
}

TEST_F(SafetensorsDirTest, BadHeaderNamesFile) {
  write("model.safetensors", safetensors_bytes_from_header(
                                 R"({"w": {"dtype": "F32", "shape": [9], "data_offsets": [0, 4]}})",
                                 std::vector<uint8_t>(4)));
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, (dir_ / "model.safetensors").string())) << message;
  EXPECT_TRUE(contains(message, "'w'")) << message;
}

TEST(FloatConversion, Bf16Rounding) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f), 0x3F80);        // tie, to even
  EXPECT_EQ(float_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);    // tie, to even (up)
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);  // above the tie
  EXPECT_EQ(float_to_bf16(INFINITY), 0x7F80);
  EXPECT_TRUE((float_to_bf16(NAN) & 0x7FFF) > 0x7F80);
}

TEST(FloatConversion, HalfKnownValues) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(0.1f), 0x2E66);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);
  EXPECT_EQ(float_to_half(0x1p-24f), 0x0001);
  EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);               // tie, to even (zero)
  EXPECT_EQ(float_to_half(0x1.8p-24f), 0x0002);             // tie, to even (up)
  EXPECT_EQ(float_to_half(0x1p-14f - 0x1p-26f), 0x0400);    // rounds up into the normals
  EXPECT_TRUE((float_to_half(NAN) & 0x7FFF) > 0x7C00);
}

// Every finite half converts to float and back unchanged.
TEST(FloatConversion, HalfRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) continue;  // NaN payloads
    ASSERT_EQ(float_to_half(cpu::half_to_float(static_cast<uint16_t>(h))), h) << "half " << h;
  }
}

class HfWeightsTest : public SafetensorsDirTest {
 protected:
  std::shared_ptr<HfWeights> open(std::optional<GGMLType> type = std::nullopt) {
    return std::make_shared<HfWeights>(SafetensorsCheckpoint::open(dir_.string()), type);
  }
  static std::vector<float> rows_of(const WeightMatrix& matrix) {
    std::vector<float> values(static_cast<size_t>(matrix.rows * matrix.cols));
    ops::dequantize_rows(matrix, 0, matrix.rows, values);
    return values;
  }
};

TEST_F(HfWeightsTest, MatrixInFileDtype) {
  write("model.safetensors",
        safetensors_bytes({{"f32", "F32", {2, 2}, f32_bytes({1, 2, 3, 4})},
                           {"bf16", "BF16", {2, 2}, bf16_bytes({5, 6, 7, 8})}}));
  auto weights = open();
  const WeightMatrix f32 = weights->matrix("f32", 2, 2);
  EXPECT_EQ(f32.type, GGMLType::F32);
  EXPECT_EQ(rows_of(f32), (std::vector<float>{1, 2, 3, 4}));
  const WeightMatrix bf16 = weights->matrix("bf16", 2, 2);
  EXPECT_EQ(bf16.type, GGMLType::BF16);
  EXPECT_EQ(rows_of(bf16), (std::vector<float>{5, 6, 7, 8}));
}

TEST_F(HfWeightsTest, MatrixConvertedToBf16) {
  const float value = 1.0f + 3 * 0x1p-8f;  // rounds up to 1 + 2^-6 in bfloat16
  write("model.safetensors", safetensors_bytes({{"w", "F32", {1, 2}, f32_bytes({value, -3})}}));
  auto weights = open(GGMLType::BF16);
  const WeightMatrix matrix = weights->matrix("w", 1, 2);
  EXPECT_EQ(matrix.type, GGMLType::BF16);
  EXPECT_EQ(rows_of(matrix), (std::vector<float>{1.0f + 0x1p-6f, -3.0f}));
}

TEST_F(HfWeightsTest, MatrixConvertedToF16) {
  write("model.safetensors", safetensors_bytes({{"w", "BF16", {1, 2}, bf16_bytes({0.5f, 3})}}));
  auto weights = open(GGMLType::F16);
  const WeightMatrix matrix = weights->matrix("w", 1, 2);
  EXPECT_EQ(matrix.type, GGMLType::F16);
  EXPECT_EQ(rows_of(matrix), (std::vector<float>{0.5f, 3.0f}));
}

// Two heads of head_dim 4. Within a head, HF rows [r0, r1, r2, r3] pair r0 with r2 and r1
// with r3, so the adjacent-pair layout is [r0, r2, r1, r3].
TEST_F(HfWeightsTest, RotaryRowOrder) {
  write("model.safetensors",
        safetensors_bytes({{"q", "F32", {8, 1}, f32_bytes({0, 1, 2, 3, 10, 11, 12, 13})}}));
  auto weights = open();
  const WeightMatrix matrix = weights->rotary_matrix("q", /*num_heads=*/2, /*head_dim=*/4, 1);
  EXPECT_EQ(rows_of(matrix), (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));
}

TEST_F(HfWeightsTest, MissingTensor) {
  write("model.safetensors", safetensors_bytes({{"w", "F32", {1}, f32_bytes({1})}}));
  auto weights = open();
  try {
    weights->vector("model.norm.weight", 1);
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "missing tensor 'model.norm.weight'")) << error.what();
  }
}

TEST_F(HfWeightsTest, ShapeMismatch) {
  write("model.safetensors", safetensors_bytes({{"w", "F32", {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6})}}));
  auto weights = open();
  try {
    weights->matrix("w", 3, 2);
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "'w' has shape [2, 3], expected [3, 2]")) << error.what();
  }
}

TEST_F(HfWeightsTest, IntegerDtypeRejected) {
  write("model.safetensors", safetensors_bytes({{"w", "I32", {1}, {1, 0, 0, 0}}}));
  auto weights = open();
  try {
    weights->vector("w", 1);
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "I32")) << error.what();
  }
}

TEST_F(HfWeightsTest, UnexpectedTensors) {
  write("model.safetensors",
        safetensors_bytes({{"used", "F32", {1}, f32_bytes({1})},
                           {"extra", "F32", {1}, f32_bytes({1})},
                           {"layer.rotary_emb.inv_freq", "F32", {1}, f32_bytes({1})}}));
  auto weights = open();
  weights->vector("used", 1);
  auto ignore_inv_freq = [](const std::string& name) { return name.ends_with("inv_freq"); };
  try {
    weights->check_all_read(ignore_inv_freq);
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "1 unexpected tensors")) << error.what();
    EXPECT_TRUE(contains(error.what(), "extra")) << error.what();
  }
  weights->vector("extra", 1);
  EXPECT_NO_THROW(weights->check_all_read(ignore_inv_freq));
}

TEST(WeightDtype, Names) {
  EXPECT_EQ(parse_weight_dtype("auto"), std::nullopt);
  EXPECT_EQ(parse_weight_dtype("bfloat16"), GGMLType::BF16);
  EXPECT_EQ(parse_weight_dtype("float16"), GGMLType::F16);
  EXPECT_EQ(parse_weight_dtype("float32"), GGMLType::F32);
  EXPECT_THROW(parse_weight_dtype("int4"), InvalidArgument);
}

}  // namespace
}  // namespace vllm
