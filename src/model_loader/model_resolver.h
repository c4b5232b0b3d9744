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

}  // namespace vllm
