// GGUF reader tests. Files are produced by a small writer below that follows the GGUF
// layout independently of the reader, read back, then damaged in targeted ways. The
// writer's output for CustomAlignment was checked once with gguf-py 0.19.0's GGUFReader,
// which read the same metadata values, tensor offsets, sizes and data offset (768).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "model_loader/gguf.h"
#include "test_model.h"

namespace fs = std::filesystem;
using vllm::GGMLType;
using vllm::GGUFFile;
using vllm::GGUFValueType;
using vllm::ModelLoadError;

namespace {

// Value type ids as the GGUF format numbers them.
constexpr uint32_t kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6,
                   kBool = 7, kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12;
// ggml tensor type ids.
constexpr uint32_t kTypeF32 = 0, kTypeF16 = 1, kTypeQ4_0 = 2, kTypeQ8_0 = 8, kTypeQ2_K = 10;

// Little-endian byte buffer.
class Bytes {
 public:
  template <typename T>
  Bytes& put(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    data.append(raw, sizeof(T));
    return *this;
  }
  Bytes& u8(uint8_t value) { return put(value); }
  Bytes& u32(uint32_t value) { return put(value); }
  Bytes& u64(uint64_t value) { return put(value); }
  Bytes& str(const std::string& text) {
    u64(text.size());
    data += text;
    return *this;
  }
  Bytes& raw(const std::string& bytes) {
    data += bytes;
    return *this;
  }

  std::string data;
};

// One encoded key/value: key string, value type, value bytes.
std::string kv(const std::string& key, uint32_t type, const Bytes& value) {
  return Bytes().str(key).u32(type).raw(value.data).data;
}
std::string kv_u32(const std::string& key, uint32_t value) {
  return kv(key, kU32, Bytes().u32(value));
}
std::string kv_string(const std::string& key, const std::string& value) {
  return kv(key, kString, Bytes().str(value));
}

struct TestTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = kTypeF32;
  std::string data;                // bytes placed in the data section
  std::optional<uint64_t> offset;  // written instead of the computed offset
};

uint64_t align_up(uint64_t offset, uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

// Writes a GGUF file. Each tensor's data starts at the next multiple of `alignment` in the
// data section, and the file ends right after the last tensor's data.
struct TestGGUF {
  uint32_t version = 3;
  std::vector<std::string> key_values;  // encoded with kv()
  std::vector<TestTensor> tensors;
  uint64_t alignment = 32;  // must agree with a general.alignment key when one is added
  std::optional<uint64_t> tensor_count;    // written instead of tensors.size()
  std::optional<uint64_t> key_value_count;  // written instead of key_values.size()

  std::string build() const {
    Bytes out;
    out.raw("GGUF").u32(version);
    out.u64(tensor_count.value_or(tensors.size()));
    out.u64(key_value_count.value_or(key_values.size()));
    for (const std::string& key_value : key_values) {
      out.raw(key_value);
    }

    std::vector<uint64_t> offsets;
    uint64_t next_offset = 0;
    for (const TestTensor& tensor : tensors) {
      next_offset = align_up(next_offset, alignment);
      offsets.push_back(next_offset);
      next_offset += tensor.data.size();
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TestTensor& tensor = tensors[i];
      out.str(tensor.name).u32(static_cast<uint32_t>(tensor.dims.size()));
      for (uint64_t dim : tensor.dims) {
        out.u64(dim);
      }
      out.u32(tensor.type).u64(tensor.offset.value_or(offsets[i]));
    }

    if (tensors.empty()) {
      return out.data;
    }
    size_t data_start = align_up(out.data.size(), alignment);
    for (size_t i = 0; i < tensors.size(); ++i) {
      out.data.resize(data_start + offsets[i], '\0');
      out.data += tensors[i].data;
    }
    return out.data;
  }
};

std::string pattern_bytes(size_t size, uint8_t seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>(seed + i * 7);
  }
  return bytes;
}

std::string f32_bytes(const std::vector<float>& values) {
  Bytes out;
  for (float value : values) {
    out.put(value);
  }
  return out.data;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class GGUFTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("gguf_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
    return path;
  }

  // Opens `bytes` as a file and returns the ModelLoadError message, or "" when it opens.
  std::string open_error(const std::string& bytes) {
    std::string path = write("test.gguf", bytes);
    try {
      GGUFFile::open(path);
    } catch (const ModelLoadError& error) {
      std::string message = error.what();
      EXPECT_TRUE(contains(message, path)) << "message does not name the file: " << message;
      return message;
    }
    return "";
  }

  // A valid file with one F32 tensor after the given metadata.
  static TestGGUF with_f32_tensor(std::vector<std::string> key_values = {}) {
    TestGGUF gguf;
    gguf.key_values = std::move(key_values);
    gguf.tensors.push_back({"weight", {4}, kTypeF32, f32_bytes({1, 2, 3, 4})});
    return gguf;
  }

  fs::path dir_;
};

// A file with metadata of every value type, including nested and empty arrays.
TestGGUF every_value_type() {
  TestGGUF gguf;
  gguf.key_values = {
      kv("t.u8", kU8, Bytes().u8(200)),
      kv("t.i8", kI8, Bytes().put<int8_t>(-100)),
      kv("t.u16", kU16, Bytes().put<uint16_t>(60000)),
      kv("t.i16", kI16, Bytes().put<int16_t>(-30000)),
      kv("t.u32", kU32, Bytes().u32(4000000000u)),
      kv("t.i32", kI32, Bytes().put<int32_t>(-2000000000)),
      kv("t.f32", kF32, Bytes().put<float>(1.5f)),
      kv("t.bool", kBool, Bytes().u8(1)),
      kv("t.string", kString, Bytes().str("h\xc3\xa9llo")),
      kv("t.u64", kU64, Bytes().u64((1ull << 63) + 5)),
      kv("t.i64", kI64, Bytes().put<int64_t>(-(1ll << 40))),
      kv("t.f64", kF64, Bytes().put<double>(3.25)),
      kv("t.ints", kArray, Bytes().u32(kI32).u64(3).put<int32_t>(1).put<int32_t>(-2).put<int32_t>(3)),
      kv("t.floats", kArray, Bytes().u32(kF32).u64(2).put<float>(0.5f).put<float>(-4.0f)),
      kv("t.strings", kArray, Bytes().u32(kString).u64(3).str("a").str("bc").str("")),
      kv("t.empty", kArray, Bytes().u32(kU8).u64(0)),
      // [[1, 2], [3]] as arrays of u8 inside an array.
      kv("t.nested", kArray,
         Bytes().u32(kArray).u64(2).u32(kU8).u64(2).u8(1).u8(2).u32(kU8).u64(1).u8(3)),
  };
  return gguf;
}

// Four tensors of the types the reader must accept, with distinct byte patterns.
std::vector<TestTensor> four_tensors() {
  return {
      {"f32", {4, 2}, kTypeF32, f32_bytes({0, 1, 2, 3, 4, 5, 6, 7})},
      {"f16", {32}, kTypeF16, pattern_bytes(32 * 2, 11)},
      {"q4_0", {64, 2}, kTypeQ4_0, pattern_bytes(2 * 2 * 18, 23)},  // 2 rows of 2 blocks
      {"q8_0", {32, 3}, kTypeQ8_0, pattern_bytes(3 * 34, 37)},      // 3 rows of 1 block
  };
}

TEST_F(GGUFTest, MetadataRoundTrip) {
  auto file = GGUFFile::open(write("meta.gguf", every_value_type().build()));

  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->metadata_keys().size(), 17u);
  EXPECT_EQ(file->metadata_keys().front(), "t.u8");
  EXPECT_EQ(file->metadata_keys().back(), "t.nested");
  EXPECT_EQ(file->get_int("t.u8"), 200);
  EXPECT_EQ(file->get_int("t.i8"), -100);
  EXPECT_EQ(file->get_int("t.u16"), 60000);
  EXPECT_EQ(file->get_int("t.i16"), -30000);
  EXPECT_EQ(file->get_int("t.u32"), 4000000000ll);
  EXPECT_EQ(file->get_int("t.i32"), -2000000000);
  EXPECT_EQ(file->get_float("t.f32"), 1.5);
  EXPECT_TRUE(file->get_bool("t.bool"));
  EXPECT_EQ(file->get_string("t.string"), "h\xc3\xa9llo");
  EXPECT_EQ(std::get<uint64_t>(file->find("t.u64")->value), (1ull << 63) + 5);
  EXPECT_EQ(file->get_int("t.i64"), -(1ll << 40));
  EXPECT_EQ(file->get_float("t.f64"), 3.25);
  EXPECT_EQ(file->get_int_array("t.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(file->get_float_array("t.floats"), (std::vector<double>{0.5, -4.0}));
  EXPECT_EQ(file->get_string_array("t.strings"), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_TRUE(file->get_int_array("t.empty").empty());
}

TEST_F(GGUFTest, NestedArrayRoundTrip) {
  auto file = GGUFFile::open(write("nested.gguf", every_value_type().build()));
  const vllm::GGUFValue* value = file->find("t.nested");
  ASSERT_NE(value, nullptr);
  ASSERT_EQ(value->type, GGUFValueType::ARRAY);
  const auto& outer = std::get<vllm::GGUFArray>(value->value);
  EXPECT_EQ(outer.element_type, GGUFValueType::ARRAY);
  const std::vector<vllm::GGUFValue> elements = outer.decode();
  ASSERT_EQ(elements.size(), 2u);
  const auto& first = std::get<vllm::GGUFArray>(elements[0].value);
  const auto& second = std::get<vllm::GGUFArray>(elements[1].value);
  EXPECT_EQ(first.element_type, GGUFValueType::UINT8);
  const std::vector<vllm::GGUFValue> first_elements = first.decode();
  ASSERT_EQ(first_elements.size(), 2u);
  EXPECT_EQ(std::get<uint64_t>(first_elements[0].value), 1u);
  EXPECT_EQ(std::get<uint64_t>(first_elements[1].value), 2u);
  const std::vector<vllm::GGUFValue> second_elements = second.decode();
  ASSERT_EQ(second_elements.size(), 1u);
  EXPECT_EQ(std::get<uint64_t>(second_elements[0].value), 3u);
}

TEST_F(GGUFTest, GetterErrors) {
  auto file = GGUFFile::open(write("meta.gguf", every_value_type().build()));

  try {
    file->get_int("t.missing");
    ADD_FAILURE() << "no error for a missing key";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "t.missing")) << error.what();
  }
  try {
    file->get_string("t.u32");
    ADD_FAILURE() << "no error for a wrong type";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "t.u32")) << error.what();
    EXPECT_TRUE(contains(error.what(), "UINT32")) << error.what();
  }
  EXPECT_THROW(file->get_int("t.u64"), ModelLoadError);  // above INT64_MAX
  EXPECT_THROW(file->get_int("t.f32"), ModelLoadError);
  EXPECT_THROW(file->get_bool("t.u8"), ModelLoadError);
  EXPECT_THROW(file->get_string_array("t.ints"), ModelLoadError);
  EXPECT_THROW(file->get_int_array("t.strings"), ModelLoadError);
  EXPECT_THROW(file->get_int_array("t.u32"), ModelLoadError);
  EXPECT_EQ(file->get_float("t.u16"), 60000.0);
  EXPECT_EQ(file->get_float_array("t.ints"), (std::vector<double>{1, -2, 3}));
  EXPECT_EQ(file->get_int_or("t.missing"), std::nullopt);
  EXPECT_EQ(file->get_string_or("t.missing"), std::nullopt);
  EXPECT_EQ(file->get_float_or("t.missing"), std::nullopt);
  EXPECT_EQ(file->get_bool_or("t.missing"), std::nullopt);
  EXPECT_EQ(file->get_int_or("t.i8"), -100);
  EXPECT_THROW(file->get_bool_or("t.string"), ModelLoadError);
}

TEST_F(GGUFTest, TensorsRoundTrip) {
  TestGGUF gguf = every_value_type();
  gguf.tensors = four_tensors();
  auto file = GGUFFile::open(write("tensors.gguf", gguf.build()));

  ASSERT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset() % 32, 0u);
  const std::vector<GGMLType> types = {GGMLType::F32, GGMLType::F16, GGMLType::Q4_0,
                                       GGMLType::Q8_0};
  for (size_t i = 0; i < gguf.tensors.size(); ++i) {
    const TestTensor& expected = gguf.tensors[i];
    const vllm::GGUFTensorInfo& info = file->tensors()[i];
    SCOPED_TRACE(expected.name);
    EXPECT_EQ(info.name, expected.name);
    EXPECT_EQ(info.shape, std::vector<int64_t>(expected.dims.begin(), expected.dims.end()));
    EXPECT_EQ(info.type, types[i]);
    EXPECT_EQ(info.num_bytes, expected.data.size());
    EXPECT_EQ(info.offset % 32, 0u);
    std::string actual(reinterpret_cast<const char*>(file->tensor_data(info)), info.num_bytes);
    EXPECT_EQ(actual, expected.data);
  }
  EXPECT_EQ(file->tensor("q8_0").num_elements(), 96);
  EXPECT_EQ(file->find_tensor("absent"), nullptr);
  const float* f32 = reinterpret_cast<const float*>(file->tensor_data(file->tensor("f32")));
  EXPECT_EQ(f32[7], 7.0f);
}

TEST_F(GGUFTest, TensorLookupMissing) {
  TestGGUF gguf = with_f32_tensor();
  auto file = GGUFFile::open(write("one.gguf", gguf.build()));
  try {
    file->tensor("output.weight");
    ADD_FAILURE() << "no error for a missing tensor";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "output.weight")) << error.what();
    EXPECT_TRUE(contains(error.what(), "one.gguf")) << error.what();
  }
}

TEST_F(GGUFTest, CustomAlignment) {
  TestGGUF gguf = every_value_type();
  gguf.alignment = 64;
  gguf.key_values.push_back(kv_u32("general.alignment", 64));
  gguf.tensors = four_tensors();
  auto file = GGUFFile::open(write("aligned.gguf", gguf.build()));

  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->data_offset(), 768u);  // as gguf-py 0.19.0 reads this file
  ASSERT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->tensors()[1].offset, 64u);   // the F32 tensor takes 32 bytes
  EXPECT_EQ(file->tensors()[2].offset, 128u);  // the F16 tensor takes 64 bytes
  EXPECT_EQ(file->tensors()[3].offset, 256u);  // the Q4_0 tensor takes 72 bytes
  for (size_t i = 0; i < gguf.tensors.size(); ++i) {
    const vllm::GGUFTensorInfo& info = file->tensors()[i];
    std::string actual(reinterpret_cast<const char*>(file->tensor_data(info)), info.num_bytes);
    EXPECT_EQ(actual, gguf.tensors[i].data) << info.name;
  }
}

TEST_F(GGUFTest, VersionTwoAccepted) {
  TestGGUF gguf = with_f32_tensor();
  gguf.version = 2;
  auto file = GGUFFile::open(write("v2.gguf", gguf.build()));
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->tensors().size(), 1u);
}

TEST_F(GGUFTest, NoTensorsAccepted) {
  auto file = GGUFFile::open(write("empty.gguf", TestGGUF().build()));
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_TRUE(file->metadata_keys().empty());
}

TEST_F(GGUFTest, MaxNestingAccepted) {
  // kGGUFMaxArrayDepth arrays, the innermost holding one u8.
  Bytes value;
  for (int depth = 1; depth < vllm::kGGUFMaxArrayDepth; ++depth) {
    value.u32(kArray).u64(1);
  }
  value.u32(kU8).u64(1).u8(7);
  TestGGUF gguf;
  gguf.key_values = {Bytes().str("deep").u32(kArray).raw(value.data).data};
  auto file = GGUFFile::open(write("deep.gguf", gguf.build()));
  EXPECT_NE(file->find("deep"), nullptr);
}

// Hostile inputs: each must raise ModelLoadError naming the file (checked in open_error) and
// the problem.

TEST_F(GGUFTest, BadMagic) {
  std::string bytes = with_f32_tensor().build();
  bytes[3] = 'X';
  std::string message = open_error(bytes);
  EXPECT_TRUE(contains(message, "not a GGUF file")) << message;
  EXPECT_TRUE(contains(message, "47 47 55 58")) << message;
}

TEST_F(GGUFTest, VersionOneRejected) {
  TestGGUF gguf = with_f32_tensor();
  gguf.version = 1;
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "version 1")) << message;
}

TEST_F(GGUFTest, VersionFourRejected) {
  TestGGUF gguf = with_f32_tensor();
  gguf.version = 4;
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "unsupported GGUF version 4")) << message;
}

TEST_F(GGUFTest, BigEndianRejected) {
  TestGGUF gguf = with_f32_tensor();
  gguf.version = 0x03000000;  // version 3 written big-endian
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "big-endian")) << message;
}

TEST_F(GGUFTest, EveryTruncationRejected) {
  TestGGUF gguf = every_value_type();
  gguf.tensors = four_tensors();
  std::string bytes = gguf.build();
  ASSERT_NO_THROW(GGUFFile::open(write("whole.gguf", bytes)));

  for (size_t length = 0; length < bytes.size(); ++length) {
    std::string message = open_error(bytes.substr(0, length));
    EXPECT_FALSE(message.empty()) << "prefix of " << length << " bytes was accepted";
  }
}

TEST_F(GGUFTest, ZeroSizeFile) {
  std::string message = open_error("");
  EXPECT_TRUE(contains(message, "empty")) << message;
}

TEST_F(GGUFTest, NonexistentPath) {
  std::string path = (dir_ / "absent.gguf").string();
  try {
    GGUFFile::open(path);
    ADD_FAILURE() << "no error for a missing file";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), path)) << error.what();
    EXPECT_TRUE(contains(error.what(), "No such file")) << error.what();
  }
}

TEST_F(GGUFTest, DirectoryPath) {
  try {
    GGUFFile::open(dir_.string());
    ADD_FAILURE() << "no error for a directory";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "not a regular file")) << error.what();
  }
}

TEST_F(GGUFTest, TensorCountTooLarge) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensor_count = 1ull << 40;
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor count 1099511627776")) << message;
}

TEST_F(GGUFTest, KeyValueCountTooLarge) {
  TestGGUF gguf = with_f32_tensor({kv_u32("a", 1)});
  gguf.key_value_count = 1ull << 62;
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "key/value count 4611686018427387904")) << message;
}

TEST_F(GGUFTest, StringPastEndOfFile) {
  TestGGUF gguf;
  gguf.key_values = {Bytes().str("name").u32(kString).u64(1000).raw("short").data};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "truncated")) << message;
  EXPECT_TRUE(contains(message, "name")) << message;
}

TEST_F(GGUFTest, StringValueAboveLimit) {
  TestGGUF gguf;
  gguf.key_values = {Bytes().str("name").u32(kString).u64(vllm::kGGUFMaxStringValueLength + 1)
                         .raw("short").data};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "above the limit")) << message;
}

TEST_F(GGUFTest, KeyAboveLimit) {
  TestGGUF gguf;
  gguf.key_values = {Bytes().u64(vllm::kGGUFMaxKeyLength + 1).raw(std::string(64, 'k')).data};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "above the limit")) << message;
}

TEST_F(GGUFTest, ArrayCountPastEndOfFile) {
  TestGGUF gguf;
  gguf.key_values = {kv("ids", kArray, Bytes().u32(kU32).u64(1000000).u32(1).u32(2))};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "array 'ids' has 1000000 elements")) << message;
}

TEST_F(GGUFTest, NestingTooDeep) {
  Bytes value;
  for (int depth = 1; depth <= vllm::kGGUFMaxArrayDepth; ++depth) {
    value.u32(kArray).u64(1);
  }
  value.u32(kU8).u64(1).u8(7);
  TestGGUF gguf;
  gguf.key_values = {Bytes().str("deep").u32(kArray).raw(value.data).data};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "nests arrays 9 deep")) << message;
}

TEST_F(GGUFTest, UnknownValueType) {
  TestGGUF gguf;
  gguf.key_values = {kv("odd", 99, Bytes().u32(0))};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "'odd' has unknown value type 99")) << message;
}

TEST_F(GGUFTest, DuplicateKey) {
  TestGGUF gguf;
  gguf.key_values = {kv_u32("a.b", 1), kv_u32("a.b", 2)};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "duplicate metadata key 'a.b'")) << message;
}

TEST_F(GGUFTest, AlignmentNotPowerOfTwo) {
  std::string message = open_error(with_f32_tensor({kv_u32("general.alignment", 48)}).build());
  EXPECT_TRUE(contains(message, "general.alignment is 48")) << message;
}

TEST_F(GGUFTest, AlignmentWrongType) {
  std::string message =
      open_error(with_f32_tensor({kv_string("general.alignment", "32")}).build());
  EXPECT_TRUE(contains(message, "general.alignment has type STRING")) << message;
}

TEST_F(GGUFTest, OffsetPastEndOfFile) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].offset = 1 << 20;
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'weight' needs 16 bytes")) << message;
}

TEST_F(GGUFTest, OffsetNearUint64Max) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].offset = UINT64_MAX - 31;  // a multiple of 32; offset + size wraps around
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'weight' needs 16 bytes")) << message;
}

TEST_F(GGUFTest, SizePastEndOfFile) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].dims = {4, 1000};  // 16000 bytes declared, 16 written
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'weight' needs 16000 bytes")) << message;
}

TEST_F(GGUFTest, ShapeOverflowsInt64) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].dims = {1ull << 32, 1ull << 32};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "'weight'")) << message;
  EXPECT_TRUE(contains(message, "overflows int64")) << message;
}

TEST_F(GGUFTest, DimAboveInt64Max) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].dims = {1ull << 63};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "overflows int64")) << message;
}

TEST_F(GGUFTest, ByteSizeOverflowsInt64) {
  // 2^62 elements fit in int64, but 4 bytes each do not.
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].dims = {1ull << 31, 1ull << 31};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "byte size that overflows int64")) << message;
}

TEST_F(GGUFTest, TooManyDims) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].dims = {4, 1, 1, 1, 1};
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'weight' has 5 dimensions")) << message;
}

TEST_F(GGUFTest, UnknownTensorType) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors[0].type = 200;
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'weight' has unknown ggml type id 200")) << message;
}

TEST_F(GGUFTest, UnsupportedTensorType) {
  TestGGUF gguf;
  gguf.tensors.push_back({"blk.0.ffn_down.weight", {256}, kTypeQ2_K, pattern_bytes(84, 1)});
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'blk.0.ffn_down.weight' has type Q2_K")) << message;
}

TEST_F(GGUFTest, RowNotMultipleOfBlock) {
  TestGGUF gguf;
  gguf.tensors.push_back({"q", {48}, kTypeQ8_0, pattern_bytes(34, 1)});
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "multiple of the block size 32")) << message;
}

TEST_F(GGUFTest, DuplicateTensorName) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors.push_back(gguf.tensors[0]);
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "duplicate tensor name 'weight'")) << message;
}

TEST_F(GGUFTest, MisalignedOffset) {
  TestGGUF gguf = with_f32_tensor();
  gguf.tensors.push_back({"bias", {4}, kTypeF32, f32_bytes({5, 6, 7, 8})});
  gguf.tensors[1].offset = 16;  // inside the data section, but not a multiple of 32
  std::string message = open_error(gguf.build());
  EXPECT_TRUE(contains(message, "tensor 'bias' has data offset 16")) << message;
  EXPECT_TRUE(contains(message, "alignment 32")) << message;
}

// The default model, checked against figures that gguf-py 0.19.0's GGUFReader (an
// independent reader) reports for the same file: the tensor count, the tensor type counts,
// llama.block_count, the data offset, and the name, shape, type, offset, size and first
// bytes of its first, second and last tensors.
TEST(GGUFRealModel, SmolLM2Figures) {
  VLLM_REQUIRE_TEST_MODEL(path);
  auto file = GGUFFile::open(path);

  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->tensors().size(), 272u);
  EXPECT_EQ(file->metadata_keys().size(), 33u);  // gguf-py's 36 fields minus its 3 header fields
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.block_count"), 30);
  EXPECT_EQ(file->get_float("llama.rope.freq_base"), 100000.0);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset(), 1785664u);

  std::map<std::string, int> type_counts;
  for (const auto& info : file->tensors()) {
    type_counts[std::string(vllm::ggml_type_name(info.type))] += 1;
  }
  EXPECT_EQ(type_counts.size(), 3u);
  EXPECT_EQ(type_counts["Q4_1"], 210);
  EXPECT_EQ(type_counts["F32"], 61);
  EXPECT_EQ(type_counts["Q8_0"], 1);

  const auto& embedding = file->tensor("token_embd.weight");
  EXPECT_EQ(embedding.shape, (std::vector<int64_t>{576, 49152}));
  EXPECT_EQ(embedding.type, GGMLType::Q8_0);
  EXPECT_EQ(embedding.offset, 0u);
  EXPECT_EQ(embedding.num_bytes, 30081024u);
  const uint8_t first_bytes[] = {0x32, 0x19, 0xd6, 0x0d, 0x13, 0xf7, 0xe5, 0xee};
  EXPECT_EQ(std::memcmp(file->tensor_data(embedding), first_bytes, 8), 0);

  const auto& norm = file->tensor("blk.0.attn_norm.weight");
  EXPECT_EQ(norm.offset, 30081024u);
  EXPECT_EQ(norm.num_bytes, 2304u);

  const auto& output_norm = file->tensors().back();
  EXPECT_EQ(output_norm.name, "output_norm.weight");
  EXPECT_EQ(output_norm.offset, 96574464u);
  const uint8_t output_norm_bytes[] = {0x00, 0x00, 0xe1, 0x3f, 0x00, 0x00, 0xe9, 0x3f};
  EXPECT_EQ(std::memcmp(file->tensor_data(output_norm), output_norm_bytes, 8), 0);

  auto tokens = file->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 49152u);
  EXPECT_EQ(tokens.front(), "<|endoftext|>");
  EXPECT_EQ(tokens.back(), "ectable");
  EXPECT_EQ(file->get_string_array("tokenizer.ggml.merges").size(), 48900u);

  // Metadata stays readable after its pages are dropped, and tensors are untouched.
  file->release_metadata_pages();
  EXPECT_EQ(file->get_string_array("tokenizer.ggml.tokens"), tokens);
  EXPECT_EQ(std::memcmp(file->tensor_data(output_norm), output_norm_bytes, 8), 0);
}

}  // namespace
