// Measures single-sequence decode and prefill speed of a GGUF model on the CPU.
//
//   bench_model MODEL.gguf [num_threads]
//
// Decode: a 32-token prompt, then 64 single-token steps. Prefill: one 512-token prompt in
// one step. Reports wall-clock tokens/s and the process CPU time. Not built by CMake yet;
// build against the core library:
//   g++ -std=c++20 -O2 -Isrc benchmarks/bench_model.cpp build-DIR/libvllm_core.a \
//       -fopenmp -lfmt -lspdlog -lpcre2-8 -o bench_model
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <vector>

#include "kernels/ops.h"
#include "model_loader/gguf.h"
#include "models/model.h"

namespace {

constexpr int64_t kBlockSize = 16;

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// Runs tokens [start, start + count) of a sequence whose blocks are 0, 1, 2, ...
void run_step(vllm::Model& model, vllm::KVCache& cache, int64_t start, int64_t count,
              int64_t max_blocks, std::vector<float>& logits) {
  vllm::ForwardBatch batch;
  for (int64_t p = start; p < start + count; ++p) {
    batch.input_ids.push_back(static_cast<int32_t>((p * 7919 + 11) % model.config().vocab_size));
    batch.positions.push_back(static_cast<int32_t>(p));
    batch.slot_mapping.push_back(p);
  }
  batch.query_start_loc = {0, static_cast<int32_t>(count)};
  batch.seq_lens = {static_cast<int32_t>(start + count)};
  for (int64_t b = 0; b < max_blocks; ++b) batch.block_tables.push_back(static_cast<int32_t>(b));
  batch.max_blocks_per_seq = static_cast<int32_t>(max_blocks);
  batch.logits_indices = {static_cast<int32_t>(count - 1)};
  logits.resize(static_cast<size_t>(model.config().vocab_size));
  model.forward(batch, cache, logits);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [num_threads]\n", argv[0]);
    return 2;
  }
  if (argc > 2) vllm::set_num_threads(std::atoi(argv[2]));
  auto model = vllm::load_gguf_model(vllm::GGUFFile::open(argv[1]));
  const auto& c = model->config();
  const int64_t max_blocks = 600 / kBlockSize;
  vllm::KVCache cache(c.num_hidden_layers, max_blocks, kBlockSize, c.num_key_value_heads,
                      c.head_dim);
  std::vector<float> logits;
  using clock = std::chrono::steady_clock;

  run_step(*model, cache, 0, 32, max_blocks, logits);  // prompt, also warms the mapping
  const int decode_steps = 64;
  auto t0 = clock::now();
  double c0 = cpu_seconds();
  for (int i = 0; i < decode_steps; ++i) run_step(*model, cache, 32 + i, 1, max_blocks, logits);
  double wall = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("decode: %.2f tokens/s (%d steps, %.3f s wall, %.3f s CPU, %d threads)\n",
              decode_steps / wall, decode_steps, wall, cpu_seconds() - c0, vllm::num_threads());

  t0 = clock::now();
  c0 = cpu_seconds();
  run_step(*model, cache, 0, 512, max_blocks, logits);
  wall = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("prefill: %.2f tokens/s (512 tokens, %.3f s wall, %.3f s CPU)\n", 512 / wall, wall,
              cpu_seconds() - c0);
  return 0;
}
