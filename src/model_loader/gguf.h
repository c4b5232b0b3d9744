// GGUF reader: header, metadata key/values, tensor infos and memory-mapped tensor data.
// Every size and count read from the file is checked against the file size before use;
// any violation throws ModelLoadError naming the file (and the key or tensor involved).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/ggml_type.h"

namespace vllm {

inline constexpr uint32_t kGGUFMagic = 0x46554747;          // "GGUF" read as little-endian u32
inline constexpr uint32_t kGGUFDefaultAlignment = 32;       // when general.alignment is absent
// Limits that keep a corrupt or hostile file from forcing huge allocations or deep recursion.
inline constexpr uint64_t kGGUFMaxKeyLength = 1ull << 20;           // keys and tensor names
inline constexpr uint64_t kGGUFMaxStringValueLength = 64ull << 20;  // string values
inline constexpr int kGGUFMaxArrayDepth = 8;   // an array directly in a key/value is depth 1
// Array elements summed over all metadata arrays. A decoded element takes about 48 bytes in
// memory against 1 byte in the file, so the file size alone would allow a 1 GB file to
// claim 48 GB. Real vocabularies (tokens, scores, types, merges) stay below 2 million.
inline constexpr uint64_t kGGUFMaxArrayElements = 1ull << 24;
inline constexpr uint32_t kGGUFMaxDims = 4;

// Metadata value types, numbered as in the GGUF format.
enum class GGUFValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// Returns the name gguf-py uses ("UINT32", "STRING", ...), or "unknown".
std::string_view gguf_value_type_name(GGUFValueType type);

struct GGUFValue;

struct GGUFArray {
  GGUFValueType element_type;
  uint64_t count = 0;
  // Elements of every type but ARRAY stay encoded in the mapped file, where the parser
  // checked them, so a 262,144-token vocabulary takes no heap until a getter decodes it.
  // Valid while the GGUFFile lives.
  std::span<const uint8_t> encoded;
  std::vector<GGUFValue> nested;  // the elements of an array of arrays

  // All `count` elements as values (nested arrays stay arrays).
  std::vector<GGUFValue> decode() const;
};

struct GGUFValue {
  GGUFValueType type;
  // Unsigned integers of every width are held as uint64_t, signed ones as int64_t, floats as
  // double.
  std::variant<uint64_t, int64_t, double, bool, std::string, GGUFArray> value;
};

struct GGUFTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (fastest) dimension
  GGMLType type;
  uint64_t offset;             // from the start of the tensor data section
  uint64_t num_bytes;          // size of the tensor data in the file
  int64_t num_elements() const;
};

class MappedFile;
class HugePageArena;

class GGUFFile {
 public:
  // Opens and validates `path`; throws ModelLoadError (file not found, not GGUF, unsupported
  // version, truncated, corrupt, or a tensor of a type this build cannot compute).
  static std::shared_ptr<GGUFFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  // Absolute file offset of the tensor data section; GGUFTensorInfo::offset counts from here.
  uint64_t data_offset() const { return data_offset_; }

  const GGUFValue* find(std::string_view key) const;
  // Typed getters throw ModelLoadError naming the key when it is missing or of another type.
  // Integer getters accept any integer type whose value fits. The *_or getters return nullopt
  // when the key is absent and throw like the others when it has another type.
  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;  // accepts float and integer values
  bool get_bool(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;
  std::optional<std::string> get_string_or(std::string_view key) const;
  std::optional<int64_t> get_int_or(std::string_view key) const;
  std::optional<double> get_float_or(std::string_view key) const;
  std::optional<bool> get_bool_or(std::string_view key) const;

  const std::vector<std::string>& metadata_keys() const { return keys_; }
  const std::vector<GGUFTensorInfo>& tensors() const { return tensors_; }
  const GGUFTensorInfo* find_tensor(std::string_view name) const;
  // Throws ModelLoadError naming the file and tensor when absent.
  const GGUFTensorInfo& tensor(std::string_view name) const;
  // Pointer to the tensor's bytes inside the mapping; valid while this object lives.
  const uint8_t* tensor_data(const GGUFTensorInfo& info) const;
  // Copies a tensor, once, out of the file mapping into anonymous memory on transparent huge
  // pages, which the CPU streams faster than the mapping's 4 KiB pages, and returns the copy.
  // `copy(dst, src, begin, length)` writes bytes [begin, begin + length) of the copy from the
  // same range of the tensor. It runs on ranges of about 4 MiB that are whole multiples of
  // `granule` bytes. Each range's file pages are dropped from the process after it, so the
  // copy keeps about one range of file pages resident at a time. Later calls for the tensor return
  // the first copy without calling `copy`. `variant` names the transformation `copy`
  // applies: calls with another variant make their own copy. Copies live as long as this
  // object.
  using TensorCopy = std::function<void(uint8_t* dst, const uint8_t* src, size_t begin,
                                        size_t length)>;
  const uint8_t* copy_tensor_once(const GGUFTensorInfo& info, int variant, size_t granule,
                                  const TensorCopy& copy) const;
  // Drops the resident pages of the header and metadata, mostly the vocabulary, once the
  // model and tokenizer are built. A later getter reads them in again from the file.
  void release_metadata_pages() const;

 private:
  GGUFFile() = default;
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGGUFDefaultAlignment;
  std::shared_ptr<MappedFile> mapping_;
  uint64_t data_offset_ = 0;
  std::vector<std::string> keys_;
  std::unordered_map<std::string, GGUFValue> metadata_;
  std::vector<GGUFTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  mutable std::mutex copy_mutex_;
  mutable std::shared_ptr<HugePageArena> arena_;  // made by the first copy
  mutable std::map<std::pair<uint64_t, int>, const uint8_t*> copies_;  // (offset, variant)
  friend class GGUFParser;
};

}  // namespace vllm
