#include "model_loader/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/json_depth.h"
#include "core/logging.h"
#include "model_loader/mapped_file.h"

namespace vllm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr uint64_t kHeaderLengthBytes = 8;
// The safetensors reference implementation rejects headers above 100 MB; so do we, so that
// a corrupt length cannot make the JSON parser walk gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kSingleFileName = "model.safetensors";
constexpr const char* kIndexFileName = "model.safetensors.index.json";

uint64_t read_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Reads a non-negative integer element of a header array; `what` names it in errors.
uint64_t header_uint(const json& value, const std::string& source, const std::string& tensor,
                     const char* what) {
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0)) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' has invalid {} {}; expected a "
                                     "non-negative integer",
                                     source, tensor, what, value.dump()));
  }
  return value.get<uint64_t>();
}

SafetensorsTensorInfo parse_tensor_entry(const std::string& source, const std::string& name,
                                         const json& entry, uint64_t data_start,
                                         uint64_t file_size) {
  if (!entry.is_object()) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' entry is {}, expected an object", source,
                                     name, entry.type_name()));
  }
  SafetensorsTensorInfo info;
  info.name = name;

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) {
    throw ModelLoadError(
        fmt::format("{}: tensor '{}' has a missing or non-string \"dtype\"", source, name));
  }
  info.dtype = dtype->get<std::string>();
  const int64_t element_size = safetensors_dtype_size(info.dtype);
  if (element_size == 0) {
    throw ModelLoadError(fmt::format(
        "{}: tensor '{}' has unknown dtype '{}'; expected one of F64, F32, F16, BF16, "
        "F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL",
        source, name, info.dtype));
  }

  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) {
    throw ModelLoadError(
        fmt::format("{}: tensor '{}' has a missing or non-array \"shape\"", source, name));
  }
  // The element count is checked against the byte range below, so an overflowing product
  // is the only case that needs its own guard.
  uint64_t num_elements = 1;
  for (const json& dim : *shape) {
    const uint64_t size = header_uint(dim, source, name, "shape dimension");
    if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (size != 0 && num_elements > std::numeric_limits<uint64_t>::max() / size)) {
      throw ModelLoadError(fmt::format("{}: tensor '{}' shape {} has too many elements",
                                       source, name, shape->dump()));
    }
    num_elements *= size;
    info.shape.push_back(static_cast<int64_t>(size));
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) {
    throw ModelLoadError(fmt::format(
        "{}: tensor '{}' has a missing or invalid \"data_offsets\"; expected [begin, end]",
        source, name));
  }
  const uint64_t begin = header_uint((*offsets)[0], source, name, "data_offsets begin");
  const uint64_t end = header_uint((*offsets)[1], source, name, "data_offsets end");
  if (end < begin) {
    throw ModelLoadError(fmt::format("{}: tensor '{}' has data_offsets [{}, {}] with end before "
                                     "begin",
                                     source, name, begin, end));
  }
  const uint64_t data_size = file_size - data_start;
  if (end > data_size) {
    throw ModelLoadError(fmt::format(
        "{}: tensor '{}' data_offsets [{}, {}] lie outside the data section of {} bytes; the "
        "file may be truncated",
        source, name, begin, end, data_size));
  }
  if (num_elements > (end - begin) / static_cast<uint64_t>(element_size) ||
      num_elements * static_cast<uint64_t>(element_size) != end - begin) {
    throw ModelLoadError(fmt::format(
        "{}: tensor '{}' has {} bytes of data, but dtype {} and shape [{}] need {} x {} bytes",
        source, name, end - begin, info.dtype, fmt::join(info.shape, ", "), num_elements,
        element_size));
  }
  info.begin = data_start + begin;
  info.end = data_start + end;
  return info;
}

std::string read_text_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ModelLoadError(fmt::format("failed to open '{}'", path.string()));
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

// Reads "weight_map" of a model.safetensors.index.json: tensor name -> shard file name.
std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  const std::string source = index_path.string();
  json root;
  try {
    const std::string text = read_text_file(index_path);
    if (const auto offset = find_json_depth_excess(text, kDefaultMaxJsonDepth)) {
      throw ModelLoadError(fmt::format("{}: JSON nests deeper than {} levels at byte {}", source,
                                       kDefaultMaxJsonDepth, *offset));
    }
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw ModelLoadError(fmt::format("{}: invalid JSON: {}", source, e.what()));
  }
  const auto weight_map = root.is_object() ? root.find("weight_map") : root.end();
  if (!root.is_object() || weight_map == root.end() || !weight_map->is_object()) {
    throw ModelLoadError(
        fmt::format("{}: missing \"weight_map\" object (tensor name -> shard file)", source));
  }
  std::map<std::string, std::string> result;
  for (const auto& [name, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      throw ModelLoadError(fmt::format("{}: weight_map entry '{}' is {}, expected a file name",
                                       source, name, shard.dump()));
    }
    const std::string file_name = shard.get<std::string>();
    // Shards sit beside the index; a path would let an index read files elsewhere.
    const fs::path shard_path(file_name);
    if (file_name.empty() || shard_path.has_parent_path() || file_name == "." ||
        file_name == "..") {
      throw ModelLoadError(fmt::format(
          "{}: weight_map entry '{}' names '{}', expected a file name in the same directory",
          source, name, file_name));
    }
    result.emplace(name, file_name);
  }
  return result;
}

}  // namespace

int64_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, int64_t, std::less<>> kSizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1},
  };
  const auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

std::optional<GGMLType> ggml_type_of_safetensors_dtype(const std::string& dtype) {
  if (dtype == "F32") return GGMLType::F32;
  if (dtype == "F16") return GGMLType::F16;
  if (dtype == "BF16") return GGMLType::BF16;
  return std::nullopt;
}

std::vector<SafetensorsTensorInfo> parse_safetensors_header(std::span<const uint8_t> file_bytes,
                                                            const std::string& source_name) {
  if (file_bytes.size() < kHeaderLengthBytes) {
    throw ModelLoadError(fmt::format(
        "{}: file of {} bytes is too short for a safetensors header length (8 bytes)",
        source_name, file_bytes.size()));
  }
  const uint64_t header_size = read_u64_le(file_bytes.data());
  const uint64_t file_size = file_bytes.size();
  if (header_size > kMaxHeaderBytes || header_size > file_size - kHeaderLengthBytes) {
    throw ModelLoadError(fmt::format(
        "{}: safetensors header length {} exceeds the file ({} bytes) or the {} byte limit; "
        "the file is truncated or not a safetensors file",
        source_name, header_size, file_size, kMaxHeaderBytes));
  }
  const uint64_t data_start = kHeaderLengthBytes + header_size;
  const auto* header_begin = reinterpret_cast<const char*>(file_bytes.data()) + kHeaderLengthBytes;

  // nlohmann::json prints values recursively in the error messages below, so deeper nesting
  // could overflow the stack.
  const std::string_view header_text(header_begin, header_size);
  if (const auto offset = find_json_depth_excess(header_text, kDefaultMaxJsonDepth)) {
    throw ModelLoadError(fmt::format("{}: safetensors header nests deeper than {} levels at "
                                     "byte {}; the file is corrupt or not a safetensors file",
                                     source_name, kDefaultMaxJsonDepth, *offset));
  }
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size);
  } catch (const json::exception& e) {
    throw ModelLoadError(
        fmt::format("{}: safetensors header is not valid JSON: {}", source_name, e.what()));
  }
  if (!header.is_object()) {
    throw ModelLoadError(fmt::format("{}: safetensors header is a JSON {}, expected an object",
                                     source_name, header.type_name()));
  }

  std::vector<SafetensorsTensorInfo> tensors;
  tensors.reserve(header.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;  // free-form string map, not a tensor
    tensors.push_back(parse_tensor_entry(source_name, name, entry, data_start, file_size));
  }

  std::sort(tensors.begin(), tensors.end(),
            [](const SafetensorsTensorInfo& a, const SafetensorsTensorInfo& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  for (size_t i = 1; i < tensors.size(); ++i) {
    const SafetensorsTensorInfo& previous = tensors[i - 1];
    const SafetensorsTensorInfo& current = tensors[i];
    // Empty tensors take no bytes, so they may share an offset with a neighbour.
    if (current.begin < previous.end && current.begin != current.end) {
      throw ModelLoadError(fmt::format(
          "{}: tensor '{}' (bytes {}..{} of the data section) overlaps tensor '{}' ({}..{})",
          source_name, current.name, current.begin - data_start, current.end - data_start,
          previous.name, previous.begin - data_start, previous.end - data_start));
    }
  }
  return tensors;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_unique<MappedFile>(path)) {
  tensors_ = parse_safetensors_header(std::span<const uint8_t>(file_->data(), file_->size()),
                                      path);
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

SafetensorsFile::~SafetensorsFile() = default;

const std::string& SafetensorsFile::path() const { return file_->path(); }

const SafetensorsTensorInfo* SafetensorsFile::find_tensor(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> SafetensorsFile::tensor_data(const SafetensorsTensorInfo& info) const {
  VLLM_CHECK(info.end <= file_->size() && info.begin <= info.end,
             "tensor '{}' bytes [{}, {}) outside '{}'", info.name, info.begin, info.end, path());
  return std::span<const uint8_t>(file_->data() + info.begin, info.end - info.begin);
}

std::shared_ptr<SafetensorsCheckpoint> SafetensorsCheckpoint::open(const std::string& directory) {
  auto checkpoint = std::shared_ptr<SafetensorsCheckpoint>(new SafetensorsCheckpoint());
  checkpoint->directory_ = directory;
  const fs::path dir(directory);
  const fs::path index_path = dir / kIndexFileName;
  const fs::path single_path = dir / kSingleFileName;
  std::error_code error;

  std::map<std::string, std::string> weight_map;  // empty for a single file
  std::vector<std::string> file_names;
  if (fs::is_regular_file(index_path, error)) {
    weight_map = read_weight_map(index_path);
    std::set<std::string> unique_names;
    for (const auto& [name, shard] : weight_map) unique_names.insert(shard);
    file_names.assign(unique_names.begin(), unique_names.end());
    for (const std::string& shard : file_names) {
      if (!fs::is_regular_file(dir / shard, error)) {
        throw ModelLoadError(fmt::format("{}: shard '{}' is listed in the weight_map but missing "
                                         "from '{}'",
                                         index_path.string(), shard, directory));
      }
    }
  } else if (fs::is_regular_file(single_path, error)) {
    file_names.push_back(kSingleFileName);
  } else {
    throw ModelLoadError(fmt::format(
        "no safetensors weights in '{}': expected {} or {} (other weight formats such as "
        "pytorch_model.bin are not supported)",
        directory, kSingleFileName, kIndexFileName));
  }

  for (const std::string& file_name : file_names) {
    checkpoint->files_.push_back(std::make_unique<SafetensorsFile>((dir / file_name).string()));
    const SafetensorsFile& file = *checkpoint->files_.back();
    for (const SafetensorsTensorInfo& info : file.tensors()) {
      const auto [it, inserted] = checkpoint->tensors_.emplace(info.name,
                                                               std::make_pair(&info, &file));
      if (!inserted) {
        throw ModelLoadError(fmt::format("tensor '{}' is in both '{}' and '{}'", info.name,
                                         it->second.second->path(), file.path()));
      }
    }
  }
  for (const auto& [name, shard] : weight_map) {
    const auto it = checkpoint->tensors_.find(name);
    if (it == checkpoint->tensors_.end() ||
        fs::path(it->second.second->path()).filename() != shard) {
      throw ModelLoadError(fmt::format("{}: tensor '{}' is mapped to shard '{}', which does not "
                                       "contain it",
                                       index_path.string(), name, shard));
    }
  }
  VLLM_LOG_DEBUG("opened safetensors checkpoint {}: {} files, {} tensors", directory,
                 checkpoint->files_.size(), checkpoint->tensors_.size());
  return checkpoint;
}

std::pair<const SafetensorsTensorInfo*, const SafetensorsFile*> SafetensorsCheckpoint::find(
    const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) return {nullptr, nullptr};
  return it->second;
}

std::vector<std::string> SafetensorsCheckpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, location] : tensors_) names.push_back(name);
  return names;
}

}  // namespace vllm
