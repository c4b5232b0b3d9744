// LLMEngine: input processing and validation on the caller's thread, generation on the
// engine-core thread, detokenization in get_outputs.
#include <algorithm>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <fmt/ranges.h>

#include "core/errors.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "engine/engine_core.h"
#include "engine/kv_cache_budget.h"
#include "engine/output_processor.h"
#include "model_loader/gguf.h"
#include "model_loader/model_resolver.h"
#include "models/model.h"
#include "models/model_config_hf.h"
#include "models/registry.h"
#include "tokenizer/tokenizer.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// Lower bound of the default max_num_batched_tokens, max(max_model_len, 2048), which lets
// any prompt be prefilled in one step when the batch is otherwise empty.
constexpr int64_t kMinDefaultBatchedTokens = 2048;

// Fills the defaults of `args` from the model config; throws InvalidArgument for values
// out of range.
void resolve_defaults(EngineArgs& args, const ModelConfig& config) {
  if (args.max_model_len < 0) {
    throw InvalidArgument(
        fmt::format("max_model_len must be positive, got {}.", args.max_model_len));
  }
  if (args.max_model_len == 0) args.max_model_len = config.max_position_embeddings;
  if (args.max_model_len <= 0) {
    throw InvalidArgument(
        "The model config has no max_position_embeddings; set `max_model_len`.");
  }
  // Positions past the trained context give wrong outputs (or, for learned position
  // embeddings, none at all), so a longer context needs vLLM's explicit opt-in.
  const char* allow_long = std::getenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN");
  const bool long_allowed = allow_long != nullptr && (std::string_view(allow_long) == "1" ||
                                                      std::string_view(allow_long) == "true");
  if (config.max_position_embeddings > 0 &&
      args.max_model_len > config.max_position_embeddings && !long_allowed) {
    throw InvalidArgument(fmt::format(
        "User-specified max_model_len ({}) is greater than the derived max_model_len "
        "(max_position_embeddings={} in the model's config). To allow overriding this "
        "maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1; outputs past the "
        "model's context may be wrong.",
        args.max_model_len, config.max_position_embeddings));
  }
  if (args.max_num_seqs < 1) {
    throw InvalidArgument(
        fmt::format("max_num_seqs must be at least 1, got {}.", args.max_num_seqs));
  }
  if (args.block_size < 1) {
    throw InvalidArgument(fmt::format("block_size must be at least 1, got {}.", args.block_size));
  }
  if (args.max_num_batched_tokens < 0) {
    throw InvalidArgument(fmt::format("max_num_batched_tokens must be positive, got {}.",
                                      args.max_num_batched_tokens));
  }
  if (args.max_num_batched_tokens == 0) {
    args.max_num_batched_tokens = std::max(args.max_model_len, kMinDefaultBatchedTokens);
  }
  if (!args.enable_chunked_prefill && args.max_num_batched_tokens < args.max_model_len) {
    throw InvalidArgument(fmt::format(
        "max_num_batched_tokens ({}) is smaller than max_model_len ({}) with chunked prefill "
        "disabled, so longer prompts could never be scheduled. Increase "
        "max_num_batched_tokens, decrease max_model_len or enable chunked prefill.",
        args.max_num_batched_tokens, args.max_model_len));
  }
  if (args.scheduling_policy != "fcfs" && args.scheduling_policy != "priority") {
    throw InvalidArgument(fmt::format(
        "scheduling_policy must be \"fcfs\" or \"priority\", got \"{}\".",
        args.scheduling_policy));
  }
  if (args.num_threads <= 0) {
    args.num_threads = available_cores();
  }
}

// Returns the generator seed of one sample. A seeded request uses its seed alone, so its
// output does not depend on the batch. Unseeded requests take std::random_device entropy
// so that runs differ.
// NOTE: EngineArgs::seed is therefore unused, while vLLM seeds unseeded requests from it.
uint64_t sample_generator_seed(const SamplingParams& params, int index) {
  if (params.seed.has_value()) return derive_sample_seed(*params.seed, index);
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  GenerationDefaults generation_defaults;
};

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelLoadError(fmt::format("failed to open '{}'", path.string()));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

// Reads the sampling defaults that `generation_config` selects (see EngineArgs).
GenerationDefaults load_generation_defaults(const std::string& generation_config,
                                            const std::string& model_path, bool is_directory) {
  namespace fs = std::filesystem;
  if (generation_config == "vllm") return {};
  fs::path path;
  if (generation_config == "auto") {
    if (!is_directory) return {};  // GGUF files carry no generation config
    path = fs::path(model_path) / "generation_config.json";
    if (!fs::exists(path)) return {};
  } else {
    path = fs::path(generation_config);
    if (fs::is_directory(path)) path /= "generation_config.json";
    if (!fs::is_regular_file(path)) {
      throw InvalidArgument(fmt::format(
          "generation_config '{}' is not \"auto\", \"vllm\" or a folder with a "
          "generation_config.json ({} not found)",
          generation_config, path.string()));
    }
  }
  GenerationDefaults defaults = parse_generation_config(read_text_file(path), path.string());
  // DEBUG only: the server states the overridden values once at INFO, as vLLM does.
  if (!defaults.empty()) {
    VLLM_LOG_DEBUG("Default sampling parameters read from {}", path.string());
  }
  return defaults;
}

// Loads the model and tokenizer from a .gguf file or a Hugging Face model directory.
LoadedModel load_model(const std::string& model_path, const EngineArgs& args) {
  LoadedModel loaded;
  const bool is_directory = std::filesystem::is_directory(model_path);
  if (is_directory) {
    const std::filesystem::path tokenizer_path =
        std::filesystem::path(model_path) / "tokenizer.json";
    if (!std::filesystem::is_regular_file(tokenizer_path)) {
      throw ModelLoadError(fmt::format(
          "{}: missing tokenizer.json; only Hugging Face fast tokenizers are supported",
          model_path));
    }
    loaded.model = load_hf_model(model_path, args.dtype);
    loaded.tokenizer = load_hf_tokenizer(tokenizer_path.string());
  } else {
    if (args.dtype != "auto" && args.dtype != "float32") {
      VLLM_LOG_WARN("dtype {} is ignored for GGUF files, whose tensors keep their file types",
                    args.dtype);
    }
    std::shared_ptr<GGUFFile> gguf = GGUFFile::open(model_path);
    loaded.model = load_gguf_model(gguf);
    loaded.tokenizer = load_gguf_tokenizer(*gguf);
    gguf->release_metadata_pages();
  }
  loaded.generation_defaults =
      load_generation_defaults(args.generation_config, model_path, is_directory);
  return loaded;
}

}  // namespace

struct LLMEngine::Impl {
  EngineArgs args;
  ModelConfig model_config;
  std::unique_ptr<Tokenizer> tokenizer;
  GenerationDefaults generation_defaults;
  std::unique_ptr<EngineCore> core;

  std::mutex mutex;  // guards output_processor
  std::unique_ptr<OutputProcessor> output_processor;

  Impl(EngineArgs engine_args, std::unique_ptr<Model> model,
       std::unique_ptr<Tokenizer> loaded_tokenizer, const std::string& model_path);
  std::vector<int32_t> process_prompt(const PromptInput& prompt) const;
  void validate_prompt(const std::vector<int32_t>& prompt_token_ids) const;
  void validate_logprobs(const SamplingParams& params) const;
  void validate_token_ids(const SamplingParams& params) const;
  void tokenize_bad_words(SamplingParams& params) const;
};

LLMEngine::Impl::Impl(EngineArgs engine_args, std::unique_ptr<Model> model,
                      std::unique_ptr<Tokenizer> loaded_tokenizer, const std::string& model_path)
    : args(std::move(engine_args)),
      model_config(model->config()),
      tokenizer(std::move(loaded_tokenizer)) {
  resolve_defaults(args, model_config);

  const int64_t head_dim = model_config.head_dim > 0
                               ? model_config.head_dim
                               : model_config.hidden_size / model_config.num_attention_heads;
  const int64_t bytes_per_block = KVCache::bytes_per_block(
      model_config.num_hidden_layers, args.block_size, model_config.num_key_value_heads, head_dim);
  const KVCacheBudget budget = resolve_kv_cache_budget(args.kv_cache_memory_bytes);
  const int64_t num_blocks =
      num_kv_cache_blocks(budget.num_bytes, bytes_per_block, args.block_size, args.max_model_len);
  args.kv_cache_memory_bytes = num_blocks * bytes_per_block;

  VLLM_LOG_INFO("model: {} ({}, dtype {}, quantization {})", model_path,
                model_config.architecture, model_config.dtype,
                model_config.quantization.empty() ? "none" : model_config.quantization);
  VLLM_LOG_INFO("max_model_len {}, max_num_seqs {}, max_num_batched_tokens {}, threads {}",
                args.max_model_len, args.max_num_seqs, args.max_num_batched_tokens,
                args.num_threads);
  VLLM_LOG_INFO("KV cache: {:.2f} MiB ({}), {} blocks of {} tokens",
                static_cast<double>(args.kv_cache_memory_bytes) / kMiB, budget.source,
                num_blocks, args.block_size);

  SchedulerConfig scheduler_config;
  scheduler_config.max_num_seqs = args.max_num_seqs;
  scheduler_config.max_num_batched_tokens = args.max_num_batched_tokens;
  scheduler_config.max_model_len = args.max_model_len;
  scheduler_config.num_blocks = num_blocks;
  scheduler_config.block_size = args.block_size;
  scheduler_config.enable_prefix_caching = args.enable_prefix_caching;
  scheduler_config.enable_chunked_prefill = args.enable_chunked_prefill;
  scheduler_config.policy = args.scheduling_policy == "priority" ? SchedulingPolicy::PRIORITY
                                                                 : SchedulingPolicy::FCFS;
  VLLM_LOG_INFO("prefix caching {}, scheduling policy {}",
                args.enable_prefix_caching ? "on" : "off", args.scheduling_policy);
  output_processor = std::make_unique<OutputProcessor>(*tokenizer);
  core = std::make_unique<EngineCore>(std::move(model), scheduler_config, args.num_threads);
#ifdef __GLIBC__
  // Loading frees many small temporaries (vocabulary copies, recovered merges) between
  // allocations that stay. Their pages go back to the system here.
  malloc_trim(0);
#endif
}

std::vector<int32_t> LLMEngine::Impl::process_prompt(const PromptInput& prompt) const {
  if (prompt.text.has_value()) return tokenizer->encode(*prompt.text, /*add_special_tokens=*/true);
  return prompt.token_ids;
}

void LLMEngine::Impl::validate_prompt(const std::vector<int32_t>& prompt_token_ids) const {
  if (prompt_token_ids.empty()) throw InvalidArgument("The decoder prompt cannot be empty");

  const int64_t vocab_size = model_config.vocab_size;
  for (int32_t token : prompt_token_ids) {
    if (token < 0 || token >= vocab_size) {
      throw InvalidArgument(fmt::format(
          "Token id {} is out of vocabulary (vocab_size {}).", token, vocab_size));
    }
  }

  const int64_t prompt_len = static_cast<int64_t>(prompt_token_ids.size());
  if (prompt_len > args.max_model_len) {
    throw InvalidArgument(fmt::format(
        "The decoder prompt (length {}) is longer than the maximum model length of {}. Make "
        "sure that `max_model_len` is no smaller than the number of text tokens.",
        prompt_len, args.max_model_len));
  }
  if (prompt_len == args.max_model_len) {
    throw InvalidArgument(fmt::format(
        "The decoder prompt (length {}) fills the maximum model length of {}, leaving no room "
        "for output tokens. Shorten the prompt or increase `max_model_len`.",
        prompt_len, args.max_model_len));
  }
}

// vLLM's rule: logprobs = -1 asks for the whole vocabulary, and the count may not exceed
// max_logprobs unless that is -1.
void LLMEngine::Impl::validate_logprobs(const SamplingParams& params) const {
  if (args.max_logprobs == -1) return;
  if (params.logprobs.has_value()) {
    const int64_t num_logprobs =
        *params.logprobs == -1 ? model_config.vocab_size : *params.logprobs;
    if (num_logprobs > args.max_logprobs) {
      throw InvalidArgument(fmt::format(
          "Requested sample logprobs of {}, which is greater than max allowed: {}",
          num_logprobs, args.max_logprobs));
    }
  }
  if (params.prompt_logprobs.has_value()) {
    const int64_t num_logprobs =
        *params.prompt_logprobs == -1 ? model_config.vocab_size : *params.prompt_logprobs;
    if (num_logprobs > args.max_logprobs) {
      throw InvalidArgument(fmt::format(
          "Requested prompt logprobs of {}, which is greater than max allowed: {}",
          num_logprobs, args.max_logprobs));
    }
  }
}

// Checks the token ids of `params` against the vocabulary, with vLLM's messages.
void LLMEngine::Impl::validate_token_ids(const SamplingParams& params) const {
  const int64_t vocab_size = model_config.vocab_size;
  auto out_of_vocab = [vocab_size](int32_t token) { return token < 0 || token >= vocab_size; };
  std::vector<int32_t> invalid;
  for (int32_t token : params.stop_token_ids) {
    if (out_of_vocab(token)) invalid.push_back(token);
  }
  if (!invalid.empty()) {
    throw InvalidArgument(fmt::format(
        "token_id(s) [{}] in stop_token_ids contain out-of-vocab token ids. Vocabulary size: {}",
        fmt::join(invalid, ", "), vocab_size));
  }
  for (const auto& [token, bias] : params.logit_bias) {
    if (out_of_vocab(token)) invalid.push_back(token);
  }
  if (!invalid.empty()) {
    throw InvalidArgument(fmt::format(
        "token_id(s) [{}] in logit_bias contain out-of-vocab token ids. Vocabulary size: {}",
        fmt::join(invalid, ", "), vocab_size));
  }
  if (params.allowed_token_ids.has_value()) {
    for (int32_t token : *params.allowed_token_ids) {
      if (out_of_vocab(token)) {
        throw InvalidArgument("allowed_token_ids contains out-of-vocab token id!");
      }
    }
    // Until min_tokens tokens exist the sampler masks EOS and the stop token ids, so an
    // allowed set made only of those leaves no token to sample.
    if (params.min_tokens > 0) {
      const std::optional<int32_t> eos = tokenizer->eos_token_id();
      const auto masked = [&](int32_t token) {
        if (!params.ignore_eos && eos.has_value() && token == *eos) return true;
        return std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), token) !=
               params.stop_token_ids.end();
      };
      if (std::all_of(params.allowed_token_ids->begin(), params.allowed_token_ids->end(),
                      masked)) {
        throw InvalidArgument(fmt::format(
            "allowed_token_ids [{}] are all EOS or stop tokens, which min_tokens={} masks "
            "for the first tokens; allow another token or lower min_tokens.",
            fmt::join(*params.allowed_token_ids, ", "), params.min_tokens));
      }
    }
  }
}

// Tokenizes each bad word as is and with a leading space, keeping the spaced form only
// when it is a different word of the same length (vLLM's update_from_tokenizer).
void LLMEngine::Impl::tokenize_bad_words(SamplingParams& params) const {
  params.bad_words_token_ids.clear();
  for (const std::string& bad_word : params.bad_words) {
    const std::string stripped = bad_word.substr(
        std::min(bad_word.size(), bad_word.find_first_not_of(" \t\n\r\f\v")));
    for (const bool add_prefix_space : {false, true}) {
      const std::string text = (add_prefix_space ? " " : "") + stripped;
      std::vector<int32_t> token_ids = tokenizer->encode(text, /*add_special_tokens=*/false);
      if (token_ids.empty()) {
        if (!add_prefix_space) {
          throw InvalidArgument("bad_words entries must tokenize to at least one token.");
        }
        continue;
      }
      if (add_prefix_space) {
        const std::vector<int32_t>& unspaced = params.bad_words_token_ids.back();
        if (token_ids[0] == unspaced[0] || token_ids.size() != unspaced.size()) continue;
      }
      params.bad_words_token_ids.push_back(std::move(token_ids));
    }
  }
}

namespace {

// glibc raises its mmap threshold to the size of each large block freed, up to 32 MiB, and
// then serves blocks below it from the heap, where freed space stays resident. The engine
// grows activation buffers step by step (1, 64, 512 tokens), so the heap of the engine
// thread kept about 27 MB of holes. A fixed threshold sends blocks of 4 MiB and more to
// mmap, which returns them on free: Gemma 3 270M, 64 x (128+128) tokens peaked 28 MiB
// lower. At 1 MiB the sampler's per-row buffers of a 262,144-token vocabulary (1 or 2
// MiB each) went through mmap and page faults on every step, and sampling with logprobs
// ran 27% slower. Fixing it also fixes the trim threshold at 128 KiB, which would hand the top of
// the heap back after every step and fault it in again at the next; 16 MiB keeps the
// step transients (rows of logprobs) resident. MALLOC_MMAP_THRESHOLD_ and
// MALLOC_TRIM_THRESHOLD_ in the environment, if set, still win.
void fix_malloc_thresholds() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 4 << 20);
    if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, 16 << 20);
  });
#endif
}

}  // namespace

LLMEngine::LLMEngine(EngineArgs args) {
  fix_malloc_thresholds();
  const std::string model_path = resolve_model_path_at_revision(args.model, args.revision);
  LoadedModel loaded = load_model(model_path, args);
  impl_ = std::make_unique<Impl>(std::move(args), std::move(loaded.model),
                                 std::move(loaded.tokenizer), model_path);
  impl_->generation_defaults = loaded.generation_defaults;
}

LLMEngine::LLMEngine(EngineArgs args, std::unique_ptr<Model> model,
                     std::unique_ptr<Tokenizer> tokenizer) {
  VLLM_CHECK(model != nullptr && tokenizer != nullptr, "LLMEngine needs a model and a tokenizer");
  impl_ = std::make_unique<Impl>(std::move(args), std::move(model), std::move(tokenizer),
                                 "<loaded model>");
}

LLMEngine::~LLMEngine() = default;

void LLMEngine::add_request(const std::string& request_id, const PromptInput& prompt,
                            const SamplingParams& params) {
  add_request(request_id, prompt, params, /*priority=*/0);
}

void LLMEngine::add_request(const std::string& request_id, const PromptInput& prompt,
                            const SamplingParams& request_params, int priority) {
  if (priority != 0 && impl_->args.scheduling_policy != "priority") {
    throw InvalidArgument(
        fmt::format("Got priority {} but Priority scheduling is not enabled.", priority));
  }
  request_params.validate();
  impl_->validate_logprobs(request_params);
  impl_->validate_token_ids(request_params);
  SamplingParams params = request_params;
  impl_->tokenize_bad_words(params);
  std::vector<int32_t> prompt_token_ids = impl_->process_prompt(prompt);
  if (params.truncate_prompt_tokens.has_value()) {
    // Keeps the last k tokens, as vLLM truncates from the left.
    const size_t num_kept = *params.truncate_prompt_tokens == -1
                                ? static_cast<size_t>(impl_->args.max_model_len)
                                : static_cast<size_t>(*params.truncate_prompt_tokens);
    if (prompt_token_ids.size() > num_kept) {
      prompt_token_ids.erase(prompt_token_ids.begin(), prompt_token_ids.end() - num_kept);
    }
  }
  impl_->validate_prompt(prompt_token_ids);

  const int64_t prompt_len = static_cast<int64_t>(prompt_token_ids.size());
  const int64_t max_tokens = params.max_tokens.has_value()
                                 ? *params.max_tokens
                                 : impl_->args.max_model_len - prompt_len;

  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->output_processor->contains(request_id)) {
    throw InvalidArgument(fmt::format("Request id {} already running.", request_id));
  }
  const std::vector<std::string> child_ids = impl_->output_processor->add_request(
      request_id, prompt.text, prompt_token_ids, params);
  // The n samples are separate requests; with prefix caching the later ones reuse the
  // first one's prompt blocks, even within one step (see KVCacheManager::allocate_slots).
  for (int index = 0; index < params.n; ++index) {
    auto request = std::make_unique<Request>(child_ids[index], prompt_token_ids, params,
                                             max_tokens, impl_->tokenizer->eos_token_id(),
                                             sample_generator_seed(params, index));
    request->priority = priority;
    request->cache_salt = prompt.cache_salt;
    impl_->core->add_request(std::move(request));
  }
}

void LLMEngine::abort_request(const std::vector<std::string>& request_ids) {
  std::vector<std::string> child_ids;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (const std::string& id : request_ids) {
      for (std::string& child : impl_->output_processor->unfinished_child_ids(id)) {
        child_ids.push_back(std::move(child));
      }
    }
  }
  if (!child_ids.empty()) impl_->core->abort_requests(std::move(child_ids));
}

std::vector<RequestOutput> LLMEngine::get_outputs(std::chrono::milliseconds timeout) {
  std::vector<EngineCoreOutput> core_outputs = impl_->core->get_outputs(timeout);
  std::vector<RequestOutput> outputs;
  std::vector<std::string> stopped_child_ids;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    outputs = impl_->output_processor->process_outputs(core_outputs);
    stopped_child_ids = impl_->output_processor->take_stopped_child_ids();
  }
  // A stop string ended these samples after detokenization; the engine core still runs them.
  if (!stopped_child_ids.empty()) impl_->core->abort_requests(std::move(stopped_child_ids));
  return outputs;
}

bool LLMEngine::has_unfinished_requests() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->output_processor->has_unfinished_requests();
}

bool LLMEngine::reset_prefix_cache() { return impl_->core->reset_prefix_cache(); }

SamplingParams LLMEngine::default_sampling_params() const {
  const GenerationDefaults& defaults = impl_->generation_defaults;
  SamplingParams params;
  if (defaults.temperature) params.temperature = *defaults.temperature;
  if (defaults.top_p) params.top_p = *defaults.top_p;
  if (defaults.top_k) params.top_k = static_cast<int>(*defaults.top_k);
  if (defaults.min_p) params.min_p = *defaults.min_p;
  if (defaults.repetition_penalty) params.repetition_penalty = *defaults.repetition_penalty;
  if (defaults.max_new_tokens) params.max_tokens = static_cast<int>(*defaults.max_new_tokens);
  return params;
}

const Tokenizer& LLMEngine::tokenizer() const { return *impl_->tokenizer; }
const ModelConfig& LLMEngine::model_config() const { return impl_->model_config; }
const EngineArgs& LLMEngine::args() const { return impl_->args; }
EngineStats LLMEngine::stats() const { return impl_->core->stats(); }

}  // namespace vllm
