// Model references and the local cache. resolve_model_path itself is declared in
// include/vllm/engine.h; these helpers expose its parts to the CLI and to tests.
#pragma once

#include <string>

namespace vllm {

inline constexpr const char* kDefaultModelName = "SmolLM2-135M-Instruct";
inline constexpr const char* kDefaultModelRepoId = "HuggingFaceTB/SmolLM2-135M-Instruct";
inline constexpr const char* kDefaultModelFileName = "SmolLM2-135M-Instruct.Q4_1.gguf";
inline constexpr const char* kFetchDefaultModelCommand = "tools/fetch_default_model.sh";

// Returns $VLLM_CACHE_ROOT, else $XDG_CACHE_HOME/vllm, else ~/.cache/vllm, as vLLM does.
// Empty variables count as unset.
std::string vllm_cache_root();

// Returns where tools/fetch_default_model.sh puts the default model.
std::string default_model_path();

// resolve_model_path with a revision for repo ids in the Hugging Face cache (a branch, tag
// or commit hash; empty means "main"). Order: a local file or directory, then the repo id
// in the Hugging Face cache (see hf_cache.h), then the default model's names.
std::string resolve_model_path_at_revision(const std::string& model, const std::string& revision);

}  // namespace vllm
