#include "engine/request.h"

#include <utility>

namespace vllm {

bool is_finished(RequestStatus status) {
  return status == RequestStatus::FINISHED_STOPPED ||
         status == RequestStatus::FINISHED_LENGTH_CAPPED ||
         status == RequestStatus::FINISHED_ABORTED;
}

std::optional<std::string> finish_reason_of(RequestStatus status) {
  switch (status) {
    case RequestStatus::FINISHED_STOPPED:
      return "stop";
    case RequestStatus::FINISHED_LENGTH_CAPPED:
      return "length";
    case RequestStatus::FINISHED_ABORTED:
      return "abort";
    default:
      return std::nullopt;
  }
}

const char* status_name(RequestStatus status) {
  switch (status) {
    case RequestStatus::WAITING: return "WAITING";
    case RequestStatus::RUNNING: return "RUNNING";
    case RequestStatus::PREEMPTED: return "PREEMPTED";
    case RequestStatus::FINISHED_STOPPED: return "FINISHED_STOPPED";
    case RequestStatus::FINISHED_LENGTH_CAPPED: return "FINISHED_LENGTH_CAPPED";
    case RequestStatus::FINISHED_ABORTED: return "FINISHED_ABORTED";
  }
  return "UNKNOWN";
}

uint64_t derive_sample_seed(int64_t seed, int sample_index) {
  // Sample i of seed s is sample 0 of seed s + i, as vLLM seeds its n > 1 children. The
  // SplitMix64 finalizer makes nearby seeds give unrelated generator states.
  uint64_t x = static_cast<uint64_t>(seed) + static_cast<uint64_t>(sample_index) +
               0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

Request::Request(std::string request_id, std::vector<int32_t> prompt_token_ids,
                 SamplingParams sampling_params, int64_t max_tokens,
                 std::optional<int32_t> eos_token_id, uint64_t generator_seed)
    : generator(generator_seed),
      request_id_(std::move(request_id)),
      prompt_token_ids_(std::move(prompt_token_ids)),
      all_token_ids_(prompt_token_ids_),
      sampling_params_(std::move(sampling_params)),
      max_tokens_(max_tokens),
      eos_token_id_(eos_token_id) {}

void Request::append_output_token(int32_t token_id) {
  output_token_ids_.push_back(token_id);
  all_token_ids_.push_back(token_id);
}

}  // namespace vllm
