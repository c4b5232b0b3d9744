// Helpers shared by the fuzz targets: input files for readers that take a path, the test
// data folder, and a quiet logger so that expected errors do not flood the fuzzer's output.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/logging.h"

namespace vllm::fuzz {

// Folder of the committed test data (tests/data), set by CMake.
inline std::string test_data_path(std::string_view relative) {
  return std::string(VLLM_TEST_DATA_DIR) + "/" + std::string(relative);
}

// Raises the log level to ERROR once; the parsers log WARN for some rejected inputs.
inline void silence_logs() {
  static const bool done = [] {
    logger()->set_level(spdlog::level::err);
    return true;
  }();
  (void)done;
}

// A private folder, created once per process and removed at exit, so that parallel fuzzers
// and replays never share a file and no sibling file (such as tokenizer_config.json beside a
// tokenizer.json) is picked up by accident.
inline const std::filesystem::path& private_temp_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "vllm-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    std::filesystem::path created(pattern);
    static const std::filesystem::path to_remove = created;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(to_remove, ignored);
    });
    return created;
  }();
  return dir;
}

// Writes `size` bytes to `file_name` in the private folder (replacing it) and returns its path.
inline std::string write_temp_file(const uint8_t* data, size_t size, std::string_view file_name) {
  const std::filesystem::path path = private_temp_dir() / std::string(file_name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error("cannot write fuzz input file " + path.string());
  return path.string();
}

}  // namespace vllm::fuzz
