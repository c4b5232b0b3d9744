// Read-only memory mapping of a whole file, unmapped when the object is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vllm {

class MappedFile {
 public:
  // Maps `path` read-only. Throws ModelLoadError naming the path and the system error when
  // the file cannot be opened, is not a regular file, or cannot be mapped. An empty file
  // gives size() == 0 and data() == nullptr.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Drops the resident pages wholly inside [offset, offset + length) from this process;
  // a later read faults them in again from the file. Best effort: errors are ignored.
  void release(size_t offset, size_t length) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vllm
