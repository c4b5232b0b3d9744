// C++ entry point of the engine. LLMEngine owns an engine-core thread that runs the
// scheduler, the KV cache and the model; the methods below talk to it through thread-safe
// queues and may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vllm/outputs.h"
#include "vllm/sampling_params.h"

namespace vllm {

class Model;
class Tokenizer;
struct ModelConfig;

struct EngineArgs {
  std::string model;                    // .gguf path, HF directory, HF repo id in the local
                                        // cache, or short name; empty: default
  std::string revision;                 // branch, tag or commit of a repo id; empty: "main"
  // Type the weight matrices of safetensors checkpoints are stored in: "auto" (the
  // checkpoint's dtype), "float32", "bfloat16" or "float16". Activations are float32.
  std::string dtype = "auto";
  // Default sampling values of requests: "auto" reads the model's generation_config.json,
  // "vllm" uses vLLM's own defaults, anything else is a folder holding a
  // generation_config.json (or that file itself).
  std::string generation_config = "auto";
  int64_t max_model_len = 0;            // 0: the model's max_position_embeddings
  int max_num_seqs = 256;
  int64_t max_num_batched_tokens = 0;   // 0: derived (max(max_model_len, 2048))
  int block_size = 16;
  int64_t kv_cache_memory_bytes = 0;    // 0: VLLM_CPU_KVCACHE_SPACE (GiB) or from free memory
  int num_threads = 0;                  // 0: number of available cores
  int max_logprobs = 20;                // max logprobs per token a request may ask; -1: no cap
  int64_t seed = 0;                     // unused: unseeded requests draw from std::random_device
  bool enable_prefix_caching = true;    // reuse the KV blocks of prompts' shared prefixes
  // Split prompts that do not fit in a step's token budget over several steps. Off, a
  // prompt waits until the whole of it fits, and max_num_batched_tokens must be at least
  // max_model_len (vLLM's rule).
  bool enable_chunked_prefill = true;
  std::string scheduling_policy = "fcfs";  // "fcfs" or "priority" (lower value first)
};

// A prompt as text or as token ids (vLLM's {"prompt_token_ids": [...]}).
struct PromptInput {
  std::optional<std::string> text;
  std::vector<int32_t> token_ids;  // used when text is absent
  // Requests with different salts never share prefix-cache blocks (vLLM's cache_salt).
  std::optional<std::string> cache_salt;
};

// Per-step counters the engine publishes, for logs, tests and later metrics.
struct EngineStats {
  int64_t num_steps = 0;
  int64_t num_preemptions = 0;
  int64_t max_running_in_step = 0;        // largest number of requests scheduled in one step
  int64_t num_multi_step_prefills = 0;    // prompts whose prefill spanned more than one step
  int num_running = 0;
  int num_waiting = 0;
  int64_t num_free_blocks = 0;
  int64_t num_total_blocks = 0;
  // Prefix-cache lookups in tokens since start, requests recomputing after preemption
  // excluded (as vLLM's hit rate).
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
};

class LLMEngine {
 public:
  // Loads the model and tokenizer, sizes the KV cache and starts the engine-core thread.
  // Throws ModelLoadError or InvalidArgument.
  explicit LLMEngine(EngineArgs args);
  // Uses an already loaded model and tokenizer instead of args.model (tests, embedders).
  LLMEngine(EngineArgs args, std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer);
  ~LLMEngine();
  LLMEngine(const LLMEngine&) = delete;
  LLMEngine& operator=(const LLMEngine&) = delete;

  // Tokenizes and validates, then queues the request. Throws InvalidArgument (empty prompt,
  // prompt longer than max_model_len, invalid sampling values, duplicate request id)
  // without affecting other requests.
  void add_request(const std::string& request_id, const PromptInput& prompt,
                   const SamplingParams& params);
  // As above with a scheduling priority (lower is served first). Throws InvalidArgument
  // for priority != 0 unless scheduling_policy is "priority".
  void add_request(const std::string& request_id, const PromptInput& prompt,
                   const SamplingParams& params, int priority);
  void abort_request(const std::vector<std::string>& request_ids);

  // Waits up to `timeout` for progress and returns the cumulative RequestOutput of every
  // request that advanced since the last call (finished ones last time they appear).
  std::vector<RequestOutput> get_outputs(std::chrono::milliseconds timeout);
  bool has_unfinished_requests() const;
  // Forgets every cached prefix block. Returns false, changing nothing, while requests
  // hold blocks (vLLM's rule). Waits for the engine-core thread.
  bool reset_prefix_cache();

  // SamplingParams whose defaults come from the generation config (see
  // EngineArgs::generation_config): temperature, top_p, top_k, min_p, repetition_penalty and
  // max_tokens (from max_new_tokens), as vLLM's LLM.get_default_sampling_params. Frontends
  // start from these for requests that do not set a value.
  SamplingParams default_sampling_params() const;

  const Tokenizer& tokenizer() const;
  const ModelConfig& model_config() const;
  const EngineArgs& args() const;   // with defaults resolved
  EngineStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Resolves a model reference to a file or directory path: "" and "SmolLM2-135M-Instruct"
// give the default model in the cache (VLLM_CACHE_ROOT, default ~/.cache/vllm).
// Throws ModelLoadError with the command that fetches the model when it is absent.
std::string resolve_model_path(const std::string& model);

}  // namespace vllm
