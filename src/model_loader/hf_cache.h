// Offline lookup of Hugging Face repo ids in the local hub cache, laid out as
// huggingface_hub writes it:
//   <hub cache>/models--<org>--<name>/refs/<revision>       a file holding the commit hash
//   <hub cache>/models--<org>--<name>/snapshots/<commit>/   the files of that commit
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vllm {

// Returns the hub cache directory: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (huggingface_hub's order;
// empty variables count as unset).
std::string hf_hub_cache_dir();

// True when `model` has the form of a repo id, "org/name", rather than a path.
bool looks_like_repo_id(const std::string& model);

struct HfCacheLookup {
  std::optional<std::string> snapshot;  // the snapshot directory, when found
  std::vector<std::string> searched;    // what was checked, for the error message
};

// Finds the snapshot of `repo_id` at `revision` (a branch or tag name under refs/, or a
// commit hash; empty means "main"). Never downloads.
HfCacheLookup find_in_hf_cache(const std::string& repo_id, const std::string& revision);

}  // namespace vllm
