// GGUF parsing: header, metadata, tensor infos and the checks that make the mapped tensor
// data safe to read. Layout (all little-endian):
//
//   magic u32 | version u32 | tensor_count u64 | kv_count u64
//   kv_count x (key string, value type u32, value)
//   tensor_count x (name string, n_dims u32, ne u64[n_dims], type u32, offset u64)
//   padding to the alignment | tensor data (each tensor at data_offset + offset)
//
// A string is a u64 byte length followed by the bytes, without a terminating NUL. An array
// value is an element type u32, a u64 count, then the elements.
#include "model_loader/gguf.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>

#include <fmt/ranges.h>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/mapped_file.h"

namespace vllm {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader maps little-endian files directly and needs a little-endian host");

namespace {

// Smallest encodings, used to bound counts by the bytes left in the file before allocating.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;     // empty key, value type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset
constexpr uint32_t kMaxKnownTypeId = 255;             // bound for listing supported types

// Encoded size of one array element of `type`, or of its fixed prefix for strings (the
// length) and arrays (element type and count). Returns 0 for an unknown type.
uint64_t min_encoded_size(GGUFValueType type) {
  switch (type) {
    case GGUFValueType::UINT8:
    case GGUFValueType::INT8:
    case GGUFValueType::BOOL: return 1;
    case GGUFValueType::UINT16:
    case GGUFValueType::INT16: return 2;
    case GGUFValueType::UINT32:
    case GGUFValueType::INT32:
    case GGUFValueType::FLOAT32: return 4;
    case GGUFValueType::UINT64:
    case GGUFValueType::INT64:
    case GGUFValueType::FLOAT64:
    case GGUFValueType::STRING: return 8;
    case GGUFValueType::ARRAY: return 12;
  }
  return 0;
}

std::string supported_type_names() {
  std::string names;
  for (uint32_t id = 0; id <= kMaxKnownTypeId; ++id) {
    auto traits = ggml_type_traits(id);
    if (traits && traits->supported) {
      names += names.empty() ? "" : ", ";
      names += traits->name;
    }
  }
  return names;
}

std::string format_shape(const std::vector<uint64_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

}  // namespace

std::string_view gguf_value_type_name(GGUFValueType type) {
  switch (type) {
    case GGUFValueType::UINT8: return "UINT8";
    case GGUFValueType::INT8: return "INT8";
    case GGUFValueType::UINT16: return "UINT16";
    case GGUFValueType::INT16: return "INT16";
    case GGUFValueType::UINT32: return "UINT32";
    case GGUFValueType::INT32: return "INT32";
    case GGUFValueType::FLOAT32: return "FLOAT32";
    case GGUFValueType::BOOL: return "BOOL";
    case GGUFValueType::STRING: return "STRING";
    case GGUFValueType::ARRAY: return "ARRAY";
    case GGUFValueType::UINT64: return "UINT64";
    case GGUFValueType::INT64: return "INT64";
    case GGUFValueType::FLOAT64: return "FLOAT64";
  }
  return "unknown";
}

void GGUFFile::release_metadata_pages() const { mapping_->release(0, data_offset_); }

int64_t GGUFTensorInfo::num_elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) {
    count *= dim;  // cannot overflow: the parser rejected shapes whose product does
  }
  return count;
}

// Reads the mapped bytes front to back. Every read checks the bytes left first, so a
// truncated or corrupt file ends in ModelLoadError, never in a read past the mapping.
class GGUFParser {
 public:
  explicit GGUFParser(GGUFFile& file)
      : file_(file), data_(file.mapping_->data()), size_(file.mapping_->size()) {}

  void parse() {
    read_header();
    read_metadata();
    read_alignment();
    read_tensor_infos();
    file_.data_offset_ = align_up(pos_, file_.alignment_);
    check_tensor_data();
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw ModelLoadError(fmt::format("invalid GGUF file '{}': {}", file_.path_, problem));
  }

  void require(uint64_t num_bytes, std::string_view field) const {
    if (num_bytes > size_ - pos_) {
      throw ModelLoadError(fmt::format(
          "GGUF file '{}' is truncated: {} at offset {} needs {} bytes, but the file ends at "
          "{}; the file is incomplete or corrupt, fetch it again",
          file_.path_, field, pos_, num_bytes, size_));
    }
  }

  template <typename T>
  T read(std::string_view field) {
    require(sizeof(T), field);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // Checks the length and bounds of a string, moves past it and returns its length.
  uint64_t skip_string(uint64_t max_length, std::string_view field) {
    uint64_t length = read<uint64_t>(field);
    if (length > max_length) {
      fail(fmt::format("{} at offset {} has length {}, above the limit of {} bytes", field,
                       pos_ - 8, length, max_length));
    }
    require(length, field);
    pos_ += length;
    return length;
  }

  std::string read_string(uint64_t max_length, std::string_view field) {
    const uint64_t length = skip_string(max_length, field);
    return std::string(reinterpret_cast<const char*>(data_ + pos_ - length), length);
  }

  uint64_t remaining() const { return size_ - pos_; }

  static uint64_t align_up(uint64_t offset, uint64_t alignment) {
    return (offset + alignment - 1) / alignment * alignment;
  }

  void read_header() {
    if (size_ == 0) {
      fail("the file is empty (0 bytes); expected a GGUF model");
    }
    require(4, "the magic number");
    if (std::memcmp(data_, "GGUF", 4) != 0) {
      std::string bytes = fmt::format("{:02x}", fmt::join(data_, data_ + 4, " "));
      fail(fmt::format("not a GGUF file: it starts with bytes {}, expected \"GGUF\"", bytes));
    }
    pos_ = 4;

    file_.version_ = read<uint32_t>("the version");
    uint32_t version = file_.version_;
    if (version == 1) {
      fail("GGUF version 1 is not supported (versions 2 and 3 are); convert the model again "
           "with a current llama.cpp");
    }
    if (version != 2 && version != 3) {
      std::string hint;
      uint32_t swapped = __builtin_bswap32(version);
      if (swapped == 2 || swapped == 3) {
        hint = "; the file looks big-endian, and only little-endian files are supported";
      }
      fail(fmt::format("unsupported GGUF version {} (versions 2 and 3 are supported){}", version,
                       hint));
    }

    num_tensors_ = read<uint64_t>("the tensor count");
    num_key_values_ = read<uint64_t>("the metadata key/value count");
    if (num_key_values_ > remaining() / kMinKeyValueBytes) {
      fail(fmt::format("metadata key/value count {} is larger than the file allows ({} bytes "
                       "left, at least {} bytes per key/value)",
                       num_key_values_, remaining(), kMinKeyValueBytes));
    }
    if (num_tensors_ > remaining() / kMinTensorInfoBytes) {
      fail(fmt::format("tensor count {} is larger than the file allows ({} bytes left, at "
                       "least {} bytes per tensor info)",
                       num_tensors_, remaining(), kMinTensorInfoBytes));
    }
  }

  void read_metadata() {
    file_.keys_.reserve(num_key_values_);
    for (uint64_t i = 0; i < num_key_values_; ++i) {
      uint64_t key_offset = pos_;
      std::string key = read_string(kGGUFMaxKeyLength, fmt::format("metadata key {}", i));
      if (key.empty()) {
        fail(fmt::format("metadata key {} at offset {} is empty", i, key_offset));
      }
      if (file_.metadata_.count(key) != 0) {
        fail(fmt::format("duplicate metadata key '{}' at offset {}", key, key_offset));
      }
      auto type = read<uint32_t>(fmt::format("the value type of key '{}'", key));
      GGUFValue value = read_value(type, 0, key);
      file_.keys_.push_back(key);
      file_.metadata_.emplace(std::move(key), std::move(value));
    }
  }

  GGUFValueType checked_value_type(uint32_t type_id, const std::string& key) const {
    auto type = static_cast<GGUFValueType>(type_id);
    if (min_encoded_size(type) == 0) {
      fail(fmt::format("metadata key '{}' has unknown value type {} at offset {}", key, type_id,
                       pos_ - 4));
    }
    return type;
  }

  // `depth` is the number of arrays enclosing this value.
  GGUFValue read_value(uint32_t type_id, int depth, const std::string& key) {
    GGUFValueType type = checked_value_type(type_id, key);
    GGUFValue value{type, uint64_t{0}};
    switch (type) {
      case GGUFValueType::UINT8: value.value = uint64_t{read<uint8_t>(key)}; break;
      case GGUFValueType::INT8: value.value = int64_t{read<int8_t>(key)}; break;
      case GGUFValueType::UINT16: value.value = uint64_t{read<uint16_t>(key)}; break;
      case GGUFValueType::INT16: value.value = int64_t{read<int16_t>(key)}; break;
      case GGUFValueType::UINT32: value.value = uint64_t{read<uint32_t>(key)}; break;
      case GGUFValueType::INT32: value.value = int64_t{read<int32_t>(key)}; break;
      case GGUFValueType::UINT64: value.value = read<uint64_t>(key); break;
      case GGUFValueType::INT64: value.value = read<int64_t>(key); break;
      case GGUFValueType::FLOAT32: value.value = double{read<float>(key)}; break;
      case GGUFValueType::FLOAT64: value.value = read<double>(key); break;
      case GGUFValueType::BOOL: value.value = read<uint8_t>(key) != 0; break;
      case GGUFValueType::STRING:
        value.value = read_string(kGGUFMaxStringValueLength, fmt::format("string '{}'", key));
        break;
      case GGUFValueType::ARRAY: value.value = read_array(depth + 1, key); break;
    }
    return value;
  }

  GGUFArray read_array(int depth, const std::string& key) {
    if (depth > kGGUFMaxArrayDepth) {
      fail(fmt::format("metadata key '{}' nests arrays {} deep at offset {}, above the limit "
                       "of {}", key, depth, pos_, kGGUFMaxArrayDepth));
    }
    uint32_t element_type_id = read<uint32_t>(fmt::format("the element type of array '{}'", key));
    GGUFValueType element_type = checked_value_type(element_type_id, key);
    uint64_t count = read<uint64_t>(fmt::format("the element count of array '{}'", key));
    uint64_t element_bytes = min_encoded_size(element_type);
    if (count > remaining() / element_bytes) {
      fail(fmt::format("array '{}' has {} elements of type {}, more than the {} bytes left in "
                       "the file can hold", key, count, gguf_value_type_name(element_type),
                       remaining()));
    }

    if (count > kGGUFMaxArrayElements - num_array_elements_) {
      fail(fmt::format("array '{}' has {} elements, which brings the metadata arrays above the "
                       "limit of {} elements in all", key, count, kGGUFMaxArrayElements));
    }
    num_array_elements_ += count;

    GGUFArray array{element_type, count, {}, {}};
    if (element_type == GGUFValueType::ARRAY) {
      array.nested.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        array.nested.push_back(read_value(element_type_id, depth, key));
      }
      return array;
    }
    // Other elements are only checked here. GGUFArray::decode reads them from the mapping.
    const uint64_t start = pos_;
    if (element_type == GGUFValueType::STRING) {
      const std::string field = fmt::format("a string of array '{}'", key);
      for (uint64_t i = 0; i < count; ++i) skip_string(kGGUFMaxStringValueLength, field);
    } else {
      pos_ += count * element_bytes;  // the count check above keeps this inside the file
    }
    array.encoded = std::span<const uint8_t>(data_ + start, pos_ - start);
    return array;
  }

  void read_alignment() {
    const GGUFValue* value = file_.find("general.alignment");
    if (value == nullptr) {
      return;
    }
    if (value->type != GGUFValueType::UINT32) {
      fail(fmt::format("general.alignment has type {}, expected UINT32",
                       gguf_value_type_name(value->type)));
    }
    uint64_t alignment = std::get<uint64_t>(value->value);
    if (!std::has_single_bit(alignment)) {
      fail(fmt::format("general.alignment is {}, expected a power of two", alignment));
    }
    file_.alignment_ = static_cast<uint32_t>(alignment);
  }

  void read_tensor_infos() {
    file_.tensors_.reserve(num_tensors_);
    for (uint64_t i = 0; i < num_tensors_; ++i) {
      GGUFTensorInfo info = read_tensor_info(i);
      if (!file_.tensor_index_.emplace(info.name, file_.tensors_.size()).second) {
        fail(fmt::format("duplicate tensor name '{}'", info.name));
      }
      file_.tensors_.push_back(std::move(info));
    }
  }

  GGUFTensorInfo read_tensor_info(uint64_t index) {
    GGUFTensorInfo info;
    info.name = read_string(kGGUFMaxKeyLength, fmt::format("the name of tensor {}", index));
    const std::string& name = info.name;

    auto num_dims = read<uint32_t>(fmt::format("the dimension count of tensor '{}'", name));
    if (num_dims > kGGUFMaxDims) {
      fail(fmt::format("tensor '{}' has {} dimensions, more than the maximum of {}", name,
                       num_dims, kGGUFMaxDims));
    }
    std::vector<uint64_t> dims(num_dims);
    for (uint64_t& dim : dims) {
      dim = read<uint64_t>(fmt::format("the shape of tensor '{}'", name));
    }
    int64_t num_elements = 1;
    for (uint64_t dim : dims) {
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(num_elements, static_cast<int64_t>(dim), &num_elements)) {
        fail(fmt::format("tensor '{}' has shape {}, whose element count overflows int64", name,
                         format_shape(dims)));
      }
    }
    info.shape.assign(dims.begin(), dims.end());

    auto type_id = read<uint32_t>(fmt::format("the type of tensor '{}'", name));
    auto traits = ggml_type_traits(type_id);
    if (!traits) {
      fail(fmt::format("tensor '{}' has unknown ggml type id {}; the file may need a newer "
                       "version of this library", name, type_id));
    }
    if (!traits->supported) {
      fail(fmt::format("tensor '{}' has type {} (id {}), which this build cannot compute; "
                       "supported types: {}", name, traits->name, type_id,
                       supported_type_names()));
    }
    info.type = static_cast<GGMLType>(type_id);

    int64_t row_length = dims.empty() ? 1 : static_cast<int64_t>(dims[0]);
    if (row_length % traits->block_size != 0) {
      fail(fmt::format("tensor '{}' has shape {} but its type {} needs ne[0] to be a multiple "
                       "of the block size {}", name, format_shape(dims), traits->name,
                       traits->block_size));
    }
    int64_t num_bytes = 0;
    if (__builtin_mul_overflow(num_elements / traits->block_size, traits->type_size,
                               &num_bytes)) {
      fail(fmt::format("tensor '{}' of type {} and shape {} has a byte size that overflows "
                       "int64", name, traits->name, format_shape(dims)));
    }
    info.num_bytes = static_cast<uint64_t>(num_bytes);

    info.offset = read<uint64_t>(fmt::format("the data offset of tensor '{}'", name));
    return info;
  }

  void check_tensor_data() const {
    uint64_t data_offset = file_.data_offset_;
    uint64_t data_bytes = data_offset <= size_ ? size_ - data_offset : 0;
    for (const GGUFTensorInfo& info : file_.tensors_) {
      if (info.offset % file_.alignment_ != 0) {
        fail(fmt::format("tensor '{}' has data offset {}, which is not a multiple of the "
                         "alignment {}", info.name, info.offset, file_.alignment_));
      }
      if (info.offset > data_bytes || info.num_bytes > data_bytes - info.offset) {
        throw ModelLoadError(fmt::format(
            "GGUF file '{}' is truncated or corrupt: tensor '{}' needs {} bytes at file offset "
            "{} + {}, but the file ends at {}; fetch the file again",
            file_.path_, info.name, info.num_bytes, data_offset, info.offset, size_));
      }
    }
  }

  GGUFFile& file_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t num_tensors_ = 0;
  uint64_t num_key_values_ = 0;
  uint64_t num_array_elements_ = 0;   // summed over all arrays read so far
};

std::shared_ptr<GGUFFile> GGUFFile::open(const std::string& path) {
  std::shared_ptr<GGUFFile> file(new GGUFFile());
  file->path_ = path;
  file->mapping_ = std::make_shared<MappedFile>(path);
  GGUFParser(*file).parse();
  VLLM_LOG_DEBUG("Opened GGUF file {}: version {}, {} metadata keys, {} tensors", path,
                 file->version_, file->keys_.size(), file->tensors_.size());
  return file;
}

const GGUFTensorInfo* GGUFFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GGUFTensorInfo& GGUFFile::tensor(std::string_view name) const {
  const GGUFTensorInfo* info = find_tensor(name);
  if (info == nullptr) {
    throw ModelLoadError(fmt::format("GGUF file '{}' has no tensor named '{}'", path_, name));
  }
  return *info;
}

const uint8_t* GGUFFile::tensor_data(const GGUFTensorInfo& info) const {
  uint64_t data_bytes = data_offset_ <= mapping_->size() ? mapping_->size() - data_offset_ : 0;
  VLLM_CHECK(info.offset <= data_bytes && info.num_bytes <= data_bytes - info.offset,
             "tensor '{}' lies outside GGUF file '{}'", info.name, path_);
  return mapping_->data() + data_offset_ + info.offset;
}

// Anonymous memory advised to transparent huge pages, handed out front to back. Regions
// never handed out are never touched, so they cost address space only.
class HugePageArena {
 public:
  explicit HugePageArena(size_t capacity) : capacity_(capacity + kHugePage) {
    void* address = ::mmap(nullptr, capacity_, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (address == MAP_FAILED) {
      throw ModelLoadError(fmt::format("failed to reserve {} bytes for model weights: {}",
                                       capacity_, std::strerror(errno)));
    }
    base_ = static_cast<uint8_t*>(address);
    // Best effort: without huge pages the weights still work, on 4 KiB pages.
    ::madvise(base_, capacity_, MADV_HUGEPAGE);
    next_ = (reinterpret_cast<uintptr_t>(base_) + kHugePage - 1) / kHugePage * kHugePage -
            reinterpret_cast<uintptr_t>(base_);
  }
  ~HugePageArena() { ::munmap(base_, capacity_); }
  HugePageArena(const HugePageArena&) = delete;
  HugePageArena& operator=(const HugePageArena&) = delete;

  uint8_t* allocate(size_t bytes) {
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    VLLM_CHECK(rounded <= capacity_ - next_, "weight arena of {} bytes is full: {} bytes requested, {} left", capacity_, bytes,
               capacity_ - next_);
    uint8_t* out = base_ + next_;
    next_ += rounded;
    return out;
  }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kAlignment = 64;
  uint8_t* base_ = nullptr;
  size_t capacity_ = 0;
  size_t next_ = 0;
};

const uint8_t* GGUFFile::copy_tensor_once(const GGUFTensorInfo& info, int variant,
                                          size_t granule, const TensorCopy& copy) const {
  constexpr size_t kChunkBytes = size_t{4} << 20;
  const uint8_t* src = tensor_data(info);
  const auto length = static_cast<size_t>(info.num_bytes);
  VLLM_CHECK(granule > 0 && length % granule == 0,
             "tensor '{}' of {} bytes is not whole units of {} bytes", info.name, length, granule);
  std::lock_guard<std::mutex> lock(copy_mutex_);
  const std::pair<uint64_t, int> key{info.offset, variant};
  if (auto it = copies_.find(key); it != copies_.end()) return it->second;
  if (arena_ == nullptr) {
    // Room for two variants of every tensor, rounded up. Only what is copied is ever
    // touched; the rest is address space. Under strict overcommit accounting, where
    // MAP_NORESERVE is ignored, a reservation of one variant may still pass.
    size_t capacity = 0;
    for (const GGUFTensorInfo& tensor : tensors_) capacity += static_cast<size_t>(tensor.num_bytes) + 64;
    try {
      arena_ = std::make_shared<HugePageArena>(2 * capacity);
    } catch (const ModelLoadError&) {
      arena_ = std::make_shared<HugePageArena>(capacity);
    }
  }
  uint8_t* dst = arena_->allocate(length);
  const size_t step = std::max<size_t>(1, kChunkBytes / granule) * granule;
  for (size_t begin = 0; begin < length; begin += step) {
    const size_t chunk = std::min(step, length - begin);
    copy(dst, src, begin, chunk);
    mapping_->release(static_cast<size_t>(src - mapping_->data()) + begin, chunk);
  }
  // The pages that straddle two ranges, and any that fault-around mapped again.
  mapping_->release(static_cast<size_t>(src - mapping_->data()), length);
  copies_.emplace(key, dst);
  return dst;
}

}  // namespace vllm
