#include "model_loader/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errors.h"

namespace vllm {

namespace {

// Closes a file descriptor when leaving the constructor, whether it throws or not. The
// mapping stays valid after the descriptor is closed.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw ModelLoadError(fmt::format("failed to open model file '{}': {}", path, std::strerror(errno)));
  }
  FdCloser closer{fd};

  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    throw ModelLoadError(fmt::format("failed to stat model file '{}': {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) {
    throw ModelLoadError(
        fmt::format("failed to map '{}': not a regular file; pass the path of a model file", path));
  }
  size_ = static_cast<size_t>(info.st_size);
  if (size_ == 0) {
    return;  // mmap rejects a zero length; callers see an empty file
  }

  void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) {
    throw ModelLoadError(fmt::format("failed to memory-map model file '{}' ({} bytes): {}", path,
                                     size_, std::strerror(errno)));
  }
  data_ = static_cast<const uint8_t*>(address);
}

void MappedFile::release(size_t offset, size_t length) const {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t begin = (offset + page - 1) / page * page;
  const size_t end = std::min(size_, offset + length) / page * page;
  if (data_ == nullptr || begin >= end) return;
  // The mapping is private and read-only, so every page still matches the file.
  ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
}

}  // namespace vllm
