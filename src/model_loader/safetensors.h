// Safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON mapping tensor names to {dtype, shape, data_offsets}, then the
// tensor data. Offsets count from the first byte after the header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace vllm {

class MappedFile;

struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype;           // as the file spells it: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // row-major, outermost dimension first (PyTorch order)
  uint64_t begin = 0;          // byte offset of the data in the file, header included
  uint64_t end = 0;            // one past the last byte, so the size is end - begin
};

// Parses the 8-byte little-endian header length and the JSON header of a safetensors file
// held in memory. Checks that every tensor lies inside the file, that no two tensors
// overlap, and that the dtype's element size times the shape's element count equals the
// data size. The "__metadata__" entry is skipped. Returns the tensors sorted by begin.
// Throws ModelLoadError naming `source_name`, the tensor or field, and why.
std::vector<SafetensorsTensorInfo> parse_safetensors_header(std::span<const uint8_t> file_bytes,
                                                            const std::string& source_name);

// Bytes per element of a safetensors dtype name, or 0 for a name safetensors does not define.
int64_t safetensors_dtype_size(const std::string& dtype);

// The ggml element type that holds a safetensors dtype with the same bits (F32, F16, BF16),
// or nullopt for dtypes the weight kernels cannot read.
std::optional<GGMLType> ggml_type_of_safetensors_dtype(const std::string& dtype);

// One memory-mapped safetensors file with its parsed header.
class SafetensorsFile {
 public:
  // Maps and parses `path`; throws ModelLoadError naming the path.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const;
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  // Returns the tensor `name`, or nullptr.
  const SafetensorsTensorInfo* find_tensor(const std::string& name) const;
  // The tensor's bytes inside the mapping; valid while this object lives.
  std::span<const uint8_t> tensor_data(const SafetensorsTensorInfo& info) const;

 private:
  std::unique_ptr<MappedFile> file_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
};

// The tensors of a Hugging Face model directory: model.safetensors, or the shards listed
// by model.safetensors.index.json ("weight_map": tensor name -> shard file name).
class SafetensorsCheckpoint {
 public:
  // Opens every file of the checkpoint in `directory`. Throws ModelLoadError when neither
  // file exists, a listed shard is missing, or a tensor is not in the shard the index names.
  static std::shared_ptr<SafetensorsCheckpoint> open(const std::string& directory);

  const std::string& directory() const { return directory_; }
  // Returns the tensor `name` and the file holding it, or {nullptr, nullptr}.
  std::pair<const SafetensorsTensorInfo*, const SafetensorsFile*> find(
      const std::string& name) const;
  // Names of every tensor in the checkpoint, sorted.
  std::vector<std::string> tensor_names() const;

 private:
  std::string directory_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsTensorInfo*, const SafetensorsFile*>,
           std::less<>>
      tensors_;
};

}  // namespace vllm
