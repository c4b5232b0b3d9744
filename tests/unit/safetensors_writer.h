// Writes safetensors files for tests, following the format description at
// https://huggingface.co/docs/safetensors: an 8-byte little-endian header length, the JSON
// header padded with spaces to a multiple of 8 bytes, then the tensor data.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vllm::testing {

struct TensorToWrite {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// Returns the bytes of a file whose header is `header_json` exactly (padded with spaces to
// a multiple of 8), followed by `data`. Lets tests write malformed headers.
inline std::vector<uint8_t> safetensors_bytes_from_header(std::string header_json,
                                                          const std::vector<uint8_t>& data) {
  while (header_json.size() % 8 != 0) header_json.push_back(' ');
  std::vector<uint8_t> bytes(8);
  uint64_t length = header_json.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  bytes.insert(bytes.end(), header_json.begin(), header_json.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// Returns the bytes of a well-formed file holding `tensors` back to back, in order.
inline std::vector<uint8_t> safetensors_bytes(const std::vector<TensorToWrite>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const TensorToWrite& tensor : tensors) {
    const uint64_t begin = data.size();
    data.insert(data.end(), tensor.data.begin(), tensor.data.end());
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {begin, static_cast<uint64_t>(data.size())}}};
  }
  return safetensors_bytes_from_header(header.dump(), data);
}

inline void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  if (!file) throw std::runtime_error("failed to write " + path);
}

// Float32 values as little-endian F32 bytes (x86-64 is little-endian).
inline std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

}  // namespace vllm::testing
