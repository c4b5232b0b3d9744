#include "model_loader/hf_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "core/errors.h"

namespace vllm {
namespace {

namespace fs = std::filesystem;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string trim(std::string text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// A revision names a file under refs/ or a folder under snapshots/, so it may not climb out
// of them. Branch names may contain '/', as "refs/pr/1" does.
bool is_safe_revision(const std::string& revision) {
  if (revision.empty() || revision.front() == '/') return false;
  for (const fs::path& part : fs::path(revision)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

}  // namespace

std::string hf_hub_cache_dir() {
  if (std::string hub = env_or_empty("HF_HUB_CACHE"); !hub.empty()) return hub;
  if (std::string home = env_or_empty("HF_HOME"); !home.empty()) {
    return (fs::path(home) / "hub").string();
  }
  if (std::string xdg = env_or_empty("XDG_CACHE_HOME"); !xdg.empty()) {
    return (fs::path(xdg) / "huggingface" / "hub").string();
  }
  const std::string user_home = env_or_empty("HOME");
  if (user_home.empty()) {
    throw ModelLoadError(
        "failed to locate the Hugging Face cache: HOME is not set; set HF_HUB_CACHE or HF_HOME");
  }
  return (fs::path(user_home) / ".cache" / "huggingface" / "hub").string();
}

bool looks_like_repo_id(const std::string& model) {
  const size_t slash = model.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == model.size()) return false;
  if (model.find('/', slash + 1) != std::string::npos) return false;
  const std::string org = model.substr(0, slash);
  const std::string name = model.substr(slash + 1);
  return org != "." && org != ".." && name != "." && name != "..";
}

HfCacheLookup find_in_hf_cache(const std::string& repo_id, const std::string& revision) {
  HfCacheLookup lookup;
  if (!looks_like_repo_id(repo_id)) return lookup;
  const std::string wanted = revision.empty() ? "main" : revision;
  if (!is_safe_revision(wanted)) {
    throw InvalidArgument(fmt::format(
        "revision '{}' is not a valid branch, tag or commit name", wanted));
  }
  const fs::path repo_dir = fs::path(hf_hub_cache_dir()) /
                            ("models--" + repo_id.substr(0, repo_id.find('/')) + "--" +
                             repo_id.substr(repo_id.find('/') + 1));
  std::error_code error;

  // A branch or tag: refs/<revision> contains the commit hash.
  const fs::path ref_path = repo_dir / "refs" / wanted;
  lookup.searched.push_back(ref_path.string());
  if (fs::is_regular_file(ref_path, error)) {
    std::ifstream file(ref_path);
    std::string commit;
    std::getline(file, commit);
    commit = trim(commit);
    if (is_safe_revision(commit)) {
      const fs::path snapshot = repo_dir / "snapshots" / commit;
      lookup.searched.push_back(snapshot.string());
      if (fs::is_directory(snapshot, error)) lookup.snapshot = snapshot.string();
    }
    return lookup;
  }

  // A commit hash: the snapshot folder itself.
  const fs::path snapshot = repo_dir / "snapshots" / wanted;
  lookup.searched.push_back(snapshot.string());
  if (fs::is_directory(snapshot, error)) lookup.snapshot = snapshot.string();
  return lookup;
}

}  // namespace vllm
