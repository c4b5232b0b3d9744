// Measures the model step of a GGUF model on the CPU, and the limits it runs against.
//
//   bench_model MODEL.gguf [num_threads]
//
// Prints, in order:
//   stream read   GB/s of a streaming read of 256 MiB by num_threads threads (best of 5),
//                 the memory-bandwidth bound of single-stream decode;
//   decode        64 single-token steps after a 32-token prompt, in tokens/s, with the weight
//                 bytes read per token and the % of the streaming-read bandwidth reached;
//   prefill       one 128-token and one 512-token prompt in one step each;
//   batch decode  32 sequences decoding together, 16 steps, total tokens/s;
//   linear ops    each distinct weight shape of layer 0 and the LM head for 1, 32 and 256
//                 tokens (256 fill the AMX tiles where the CPU has them): microseconds per
//                 call (wall and process CPU), GB/s of weight read, GFLOP/s.
// Rates are wall-clock. The process CPU time shows whether other processes took the cores:
// with one thread on a busy machine it is the better measure of the kernels' own cost.
// Not built by CMake; build against the core library:
//   g++ -std=c++20 -O2 -Isrc -Iinclude benchmarks/bench_model.cpp build-DIR/libvllm_core.a \
//       -lfmt -lspdlog -lpcre2-8 -lcrypto -o bench_model
// VLLM_CPU_ACTIVATION_QUANT=1 selects the int8-activation kernels (docs/kernels.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <immintrin.h>

#include "kernels/ops.h"
#include "model_loader/gguf.h"
#include "models/gguf_weights.h"
#include "models/model.h"

namespace {

constexpr int64_t kBlockSize = 16;
using Clock = std::chrono::steady_clock;

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sums 64-bit words with AVX2 loads. Returning the sum keeps the compiler from dropping the
// reads.
__attribute__((target("avx2"))) uint64_t read_avx2(const uint64_t* data, size_t n) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  for (size_t i = 0; i + 16 <= n; i += 16) {
    for (int j = 0; j < 4; ++j) {
      acc[j] = _mm256_add_epi64(
          acc[j], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 4 * j)));
    }
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]),
                                      _mm256_add_epi64(acc[2], acc[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t read_scalar(const uint64_t* data, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += data[i];
  return sum;
}

// GB/s of `threads` threads each reading its contiguous share of a 256 MiB buffer.
double stream_read_gbs(int threads) {
  const size_t n = (size_t{256} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buffer(n, 1);
  const bool avx2 = __builtin_cpu_supports("avx2");
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t begin = n * t / threads, end = n * (t + 1) / threads;
        sums[t] = avx2 ? read_avx2(buffer.data() + begin, end - begin)
                       : read_scalar(buffer.data() + begin, end - begin);
      });
    }
    for (auto& thread : pool) thread.join();
    best = std::min(best, seconds_since(start));
  }
  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  if (total != n) std::printf("stream read: unexpected sum %llu\n", (unsigned long long)total);
  return static_cast<double>(n * sizeof(uint64_t)) / best / 1e9;
}

// One sequence's tokens [start, start + count) in a batch; sequence s owns the blocks
// [s * max_blocks, (s + 1) * max_blocks).
void add_sequence(vllm::ForwardBatch& batch, int64_t s, int64_t start, int64_t count,
                  int64_t max_blocks, int64_t vocab_size) {
  if (batch.query_start_loc.empty()) batch.query_start_loc.push_back(0);
  for (int64_t p = start; p < start + count; ++p) {
    batch.input_ids.push_back(static_cast<int32_t>((p * 7919 + s * 104729 + 11) % vocab_size));
    batch.positions.push_back(static_cast<int32_t>(p));
    batch.slot_mapping.push_back(s * max_blocks * kBlockSize + p);
  }
  batch.query_start_loc.push_back(static_cast<int32_t>(batch.input_ids.size()));
  batch.seq_lens.push_back(static_cast<int32_t>(start + count));
  for (int64_t b = 0; b < max_blocks; ++b) {
    batch.block_tables.push_back(static_cast<int32_t>(s * max_blocks + b));
  }
  batch.max_blocks_per_seq = static_cast<int32_t>(max_blocks);
  batch.logits_indices.push_back(static_cast<int32_t>(batch.input_ids.size() - 1));
}

void forward(vllm::Model& model, vllm::KVCache& cache, const vllm::ForwardBatch& batch) {
  std::vector<float> logits(batch.logits_indices.size() *
                            static_cast<size_t>(model.config().vocab_size));
  model.forward(batch, cache, logits);
}

// Runs tokens [start, start + count) of sequence 0.
void run_step(vllm::Model& model, vllm::KVCache& cache, int64_t start, int64_t count,
              int64_t max_blocks) {
  vllm::ForwardBatch batch;
  add_sequence(batch, 0, start, count, max_blocks, model.config().vocab_size);
  forward(model, cache, batch);
}

// Weight bytes one decode step reads: every tensor, except an untied embedding table, of
// which a step reads one row.
double weight_bytes_per_token(const vllm::GGUFFile& gguf, bool tied_embeddings) {
  double bytes = 0;
  for (const auto& tensor : gguf.tensors()) {
    if (tensor.name == "token_embd.weight" && !tied_embeddings) continue;
    bytes += static_cast<double>(tensor.num_bytes);
  }
  return bytes;
}

void bench_linear(const vllm::GGUFFile& gguf, const std::string& name, int64_t rows,
                  int64_t cols) {
  const vllm::WeightMatrix w = vllm::gguf_weight_matrix(gguf, name, rows, cols);
  for (int64_t tokens : {1, 32, 256}) {
    std::vector<float> x(static_cast<size_t>(tokens * cols), 0.01f);
    std::vector<float> y(static_cast<size_t>(tokens * rows));
    vllm::ops::linear(x, tokens, w, {}, y);  // warm-up
    const int reps = std::max<int>(3, static_cast<int>(4e8 / (2.0 * rows * cols * tokens)));
    const auto start = Clock::now();
    const double cpu_start = cpu_seconds();
    for (int i = 0; i < reps; ++i) vllm::ops::linear(x, tokens, w, {}, y);
    const double per_call = seconds_since(start) / reps;
    const double cpu_per_call = (cpu_seconds() - cpu_start) / reps;
    std::printf("  %-22s %-5s %6lld x %-5lld  %3lld tok  %9.1f us (CPU %9.1f us)  %6.2f GB/s  "
                "%7.1f GFLOP/s\n",
                name.c_str(), vllm::ggml_type_name(w.type).data(), (long long)rows,
                (long long)cols, (long long)tokens, per_call * 1e6, cpu_per_call * 1e6,
                static_cast<double>(rows * w.row_bytes()) / per_call / 1e9,
                2.0 * rows * cols * tokens / per_call / 1e9);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [num_threads]\n", argv[0]);
    return 2;
  }
  if (argc > 2) vllm::set_num_threads(std::atoi(argv[2]));
  const char* quant = std::getenv("VLLM_CPU_ACTIVATION_QUANT");
  std::printf("threads: %d, VLLM_CPU_ACTIVATION_QUANT=%s\n", vllm::num_threads(),
              quant ? quant : "(unset)");

  const double stream_gbs = stream_read_gbs(vllm::num_threads());
  std::printf("stream read: %.2f GB/s\n", stream_gbs);

  auto gguf = vllm::GGUFFile::open(argv[1]);
  auto model = vllm::load_gguf_model(gguf);
  const auto& c = model->config();
  const int64_t max_blocks = 600 / kBlockSize;
  vllm::KVCache cache(c.num_hidden_layers, max_blocks, kBlockSize, c.num_key_value_heads,
                      c.head_dim);

  run_step(*model, cache, 0, 32, max_blocks);  // prompt, also warms the mapping
  const int decode_steps = 64;
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  for (int i = 0; i < decode_steps; ++i) run_step(*model, cache, 32 + i, 1, max_blocks);
  double wall = seconds_since(t0);
  const double bytes = weight_bytes_per_token(*gguf, c.tie_word_embeddings);
  const double decode_tps = decode_steps / wall;
  std::printf("decode: %.2f tokens/s (%d steps, %.3f s wall, %.3f s CPU); %.1f MB weights per "
              "token: %.2f GB/s, %.0f%% of stream read\n",
              decode_tps, decode_steps, wall, cpu_seconds() - c0, bytes / 1e6,
              bytes * decode_tps / 1e9, 100.0 * bytes * decode_tps / 1e9 / stream_gbs);

  for (int64_t prompt : {128, 512}) {
    t0 = Clock::now();
    c0 = cpu_seconds();
    run_step(*model, cache, 0, prompt, max_blocks);
    wall = seconds_since(t0);
    std::printf("prefill %lld: %.2f tokens/s (%.3f s wall, %.3f s CPU)\n", (long long)prompt,
                prompt / wall, wall, cpu_seconds() - c0);
  }

  {
    const int64_t num_seqs = 32, prompt = 32, steps = 16;
    const int64_t seq_blocks = (prompt + steps + kBlockSize - 1) / kBlockSize;
    vllm::KVCache batch_cache(c.num_hidden_layers, num_seqs * seq_blocks, kBlockSize,
                              c.num_key_value_heads, c.head_dim);
    vllm::ForwardBatch prefill;
    for (int64_t s = 0; s < num_seqs; ++s) add_sequence(prefill, s, 0, prompt, seq_blocks, c.vocab_size);
    forward(*model, batch_cache, prefill);
    t0 = Clock::now();
    c0 = cpu_seconds();
    for (int64_t i = 0; i < steps; ++i) {
      vllm::ForwardBatch step;
      for (int64_t s = 0; s < num_seqs; ++s) add_sequence(step, s, prompt + i, 1, seq_blocks, c.vocab_size);
      forward(*model, batch_cache, step);
    }
    wall = seconds_since(t0);
    std::printf("batch decode: %.2f tokens/s total (%lld sequences, %lld steps, %.3f s wall, "
                "%.3f s CPU)\n",
                num_seqs * steps / wall, (long long)num_seqs, (long long)steps, wall,
                cpu_seconds() - c0);
  }

  std::printf("linear ops:\n");
  const int64_t hidden = c.hidden_size, q_size = c.num_attention_heads * c.head_dim;
  const int64_t kv_size = c.num_key_value_heads * c.head_dim;
  bench_linear(*gguf, "blk.0.attn_q.weight", q_size, hidden);
  bench_linear(*gguf, "blk.0.attn_k.weight", kv_size, hidden);
  bench_linear(*gguf, "blk.0.ffn_up.weight", c.intermediate_size, hidden);
  bench_linear(*gguf, "blk.0.ffn_down.weight", hidden, c.intermediate_size);
  bench_linear(*gguf, c.tie_word_embeddings ? "token_embd.weight" : "output.weight",
               c.vocab_size, hidden);
  return 0;
}
