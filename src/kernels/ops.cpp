// Front-end of the op interface: checks shapes, indices and devices, then calls the kernels
// of the tensors' device. Only CPU kernels exist in this build.
#include "kernels/ops.h"

#include <algorithm>
#include <vector>

#include "core/errors.h"
#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/norm_activation.h"

namespace vllm {
namespace {

void require_cpu(Device device, const char* op) {
  if (device != Device::kCpu) {
    throw InvalidArgument(fmt::format("{}: unsupported device '{}' in this build (built without "
                                      "CUDA kernels); use the CPU device",
                                      op, device_name(device)));
  }
}

void check_size(const char* op, const char* name, size_t actual, int64_t expected) {
  VLLM_CHECK(static_cast<int64_t>(actual) == expected, "{}: {} has {} elements, expected {}", op,
             name, actual, expected);
}

void check_weight(const char* op, const WeightMatrix& weight) {
  auto traits = ggml_type_traits(static_cast<uint32_t>(weight.type));
  VLLM_CHECK(traits && traits->supported, "{}: weight type {} has no kernel", op,
             static_cast<uint32_t>(weight.type));
  VLLM_CHECK(weight.rows > 0 && weight.cols > 0 && weight.cols % traits->block_size == 0,
             "{}: weight of {} x {} is not whole {} blocks of {} elements", op, weight.rows,
             weight.cols, traits->name, traits->block_size);
  VLLM_CHECK(weight.data != nullptr, "{}: weight data is null", op);
  VLLM_CHECK(weight.layout == WeightLayout::kRows ||
                 (weight.rows % 16 == 0 && cpu::row_groups_supported(weight.type)),
             "{}: a {} x {} {} matrix cannot be in row groups", op, weight.rows, weight.cols,
             traits->name);
}

}  // namespace

std::string_view device_name(Device device) {
  switch (device) {
    case Device::kCpu: return "cpu";
    case Device::kCuda: return "cuda";
  }
  return "unknown";
}

void set_num_threads(int num_threads) {
  if (num_threads < 1) {
    throw InvalidArgument(fmt::format("num_threads must be at least 1, got {}", num_threads));
  }
  ThreadPool::global().resize(num_threads);
}

int num_threads() { return ThreadPool::global().num_threads(); }

int64_t WeightMatrix::row_bytes() const {
  auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  VLLM_CHECK(traits.has_value(), "unknown ggml type id {}", static_cast<uint32_t>(type));
  return ggml_row_bytes(*traits, cols);
}

namespace ops {

bool prefers_row_groups(const WeightMatrix& weight) {
  return weight.device == Device::kCpu && weight.layout == WeightLayout::kRows &&
         cpu::prefers_row_groups(weight);
}

void pack_row_groups(const WeightMatrix& weight, uint8_t* dst) {
  check_weight("pack_row_groups", weight);
  if (weight.layout != WeightLayout::kRows || weight.rows % 16 != 0 ||
      !cpu::row_groups_supported(weight.type)) {
    throw InvalidArgument(fmt::format(
        "pack_row_groups: a {} x {} matrix of ggml type {} has no row-group layout here",
        weight.rows, weight.cols, static_cast<uint32_t>(weight.type)));
  }
  cpu::pack_row_groups(weight, dst);
}

void dequantize_rows(const WeightMatrix& weight, int64_t first_row, int64_t num_rows,
                     std::span<float> out) {
  require_cpu(weight.device, "dequantize_rows");
  check_weight("dequantize_rows", weight);
  VLLM_CHECK(first_row >= 0 && num_rows >= 0 && first_row + num_rows <= weight.rows,
             "dequantize_rows: rows [{}, {}) outside [0, {})", first_row, first_row + num_rows,
             weight.rows);
  check_size("dequantize_rows", "out", out.size(), num_rows * weight.cols);
  if (weight.layout == WeightLayout::kRowGroups16) {
    for (int64_t r = 0; r < num_rows; ++r)
      cpu::dequantize_grouped_row(weight, first_row + r, out.data() + r * weight.cols);
    return;
  }
  cpu::dequantize_row(weight.type, weight.data + first_row * weight.row_bytes(), out.data(),
                      num_rows * weight.cols);
}

void embedding(const WeightMatrix& table, std::span<const int32_t> token_ids,
               std::span<float> out) {
  require_cpu(table.device, "embedding");
  check_weight("embedding", table);
  const int64_t hidden = table.cols;
  check_size("embedding", "out", out.size(), static_cast<int64_t>(token_ids.size()) * hidden);
  for (size_t t = 0; t < token_ids.size(); ++t) {
    const int32_t id = token_ids[t];
    if (id < 0 || id >= table.rows) {
      throw InvalidArgument(fmt::format("token id {} is out of vocabulary [0, {})", id,
                                        table.rows));
    }
  }
  const int64_t row_bytes = table.row_bytes();
  for (size_t t = 0; t < token_ids.size(); ++t) {
    if (table.layout == WeightLayout::kRowGroups16) {
      cpu::dequantize_grouped_row(table, token_ids[t], out.data() + static_cast<int64_t>(t) * hidden);
      continue;
    }
    cpu::dequantize_row(table.type, table.data + token_ids[t] * row_bytes,
                        out.data() + static_cast<int64_t>(t) * hidden, hidden);
  }
}

namespace {

void check_linear(std::span<const float> x, int64_t num_tokens, const WeightMatrix& weight,
                  std::span<const float> bias, std::span<float> y) {
  require_cpu(weight.device, "linear");
  check_weight("linear", weight);
  VLLM_CHECK(num_tokens >= 0, "linear: num_tokens={}", num_tokens);
  check_size("linear", "x", x.size(), num_tokens * weight.cols);
  check_size("linear", "y", y.size(), num_tokens * weight.rows);
  if (!bias.empty()) check_size("linear", "bias", bias.size(), weight.rows);
}

}  // namespace

void linear(std::span<const float> x, int64_t num_tokens, const WeightMatrix& weight,
            std::span<const float> bias, std::span<float> y) {
  check_linear(x, num_tokens, weight, bias, y);
  if (num_tokens == 0) return;
  cpu::linear(x.data(), num_tokens, weight, bias.empty() ? nullptr : bias.data(), y.data());
}

void linear_max(std::span<const float> x, int64_t num_tokens, const WeightMatrix& weight,
                std::span<float> y) {
  if (weight.layout != WeightLayout::kRowGroups16) {
    linear(x, num_tokens, weight, {}, y);
    return;
  }
  check_linear(x, num_tokens, weight, {}, y);
  if (num_tokens == 0) return;
  cpu::linear_row_groups_max(x.data(), num_tokens, weight, y.data());
}

void linear_shared_input(std::span<const float> x, int64_t num_tokens,
                         std::span<const LinearProduct> products) {
  std::vector<cpu::GroupedProduct> grouped;
  for (const LinearProduct& product : products) {
    const WeightMatrix& weight = *product.weight;
    if (weight.layout != WeightLayout::kRowGroups16) {
      linear(x, num_tokens, weight, product.bias, product.y);
      continue;
    }
    check_linear(x, num_tokens, weight, product.bias, product.y);
    grouped.push_back({&weight, product.bias.empty() ? nullptr : product.bias.data(),
                       product.y.data()});
  }
  if (grouped.empty() || num_tokens == 0) return;
  cpu::linear_row_groups_shared(x.data(), num_tokens, grouped);
}

void rms_norm(Device device, std::span<const float> x, std::span<const float> weight,
              double eps, std::span<float> out) {
  require_cpu(device, "rms_norm");
  const int64_t hidden = static_cast<int64_t>(weight.size());
  VLLM_CHECK(hidden > 0 && x.size() % weight.size() == 0,
             "rms_norm: x of {} elements is not rows of hidden_size {}", x.size(), hidden);
  check_size("rms_norm", "out", out.size(), static_cast<int64_t>(x.size()));
  cpu::rms_norm(x.data(), static_cast<int64_t>(x.size()) / hidden, hidden, weight.data(), eps,
                out.data());
}

void add_inplace(Device device, std::span<float> x, std::span<const float> y) {
  require_cpu(device, "add_inplace");
  check_size("add_inplace", "y", y.size(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

void rotary_embedding(Device device, std::span<const float> cos_sin, std::span<float> query,
                      std::span<float> key, int64_t num_heads, int64_t num_kv_heads,
                      int64_t head_dim, RotaryStyle style, int64_t rotary_dim) {
  require_cpu(device, "rotary_embedding");
  if (rotary_dim == 0) rotary_dim = head_dim;
  VLLM_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim,
             "rotary_embedding: rotary_dim={} is not even and within head_dim={}", rotary_dim,
             head_dim);
  const int64_t num_tokens = static_cast<int64_t>(cos_sin.size()) / rotary_dim;
  check_size("rotary_embedding", "cos_sin", cos_sin.size(), num_tokens * rotary_dim);
  check_size("rotary_embedding", "query", query.size(), num_tokens * num_heads * head_dim);
  check_size("rotary_embedding", "key", key.size(), num_tokens * num_kv_heads * head_dim);
  cpu::rotary_embedding(cos_sin.data(), num_tokens, query.data(), key.data(), num_heads,
                        num_kv_heads, head_dim, style, rotary_dim);
}

void silu_and_mul(Device device, std::span<const float> gate, std::span<const float> up,
                  std::span<float> out) {
  require_cpu(device, "silu_and_mul");
  check_size("silu_and_mul", "up", up.size(), static_cast<int64_t>(gate.size()));
  check_size("silu_and_mul", "out", out.size(), static_cast<int64_t>(gate.size()));
  cpu::silu_and_mul(gate.data(), up.data(), static_cast<int64_t>(gate.size()), out.data());
}

void write_kv(std::span<const float> key, std::span<const float> value,
              std::span<const int64_t> slot_mapping, const PagedKVCacheView& cache) {
  require_cpu(cache.device, "write_kv");
  const int64_t num_tokens = static_cast<int64_t>(slot_mapping.size());
  const int64_t token_floats = cache.num_kv_heads * cache.head_dim;
  check_size("write_kv", "key", key.size(), num_tokens * token_floats);
  check_size("write_kv", "value", value.size(), num_tokens * token_floats);
  const int64_t num_slots = cache.num_blocks * cache.block_size;
  for (int64_t t = 0; t < num_tokens; ++t) {
    VLLM_CHECK(slot_mapping[t] < num_slots, "write_kv: slot {} of token {} outside [0, {})",
               slot_mapping[t], t, num_slots);
  }
  cpu::write_kv(key.data(), value.data(), slot_mapping.data(), num_tokens, cache);
}

void paged_attention(std::span<const float> query, int64_t num_heads,
                     const PagedKVCacheView& cache, const AttentionMetadata& metadata,
                     const AttentionOptions& options, std::span<float> out) {
  require_cpu(cache.device, "paged_attention");
  VLLM_CHECK(options.sliding_window >= 0 && options.logits_soft_cap >= 0.0f,
             "paged_attention: sliding_window={} and logits_soft_cap={} must not be negative",
             options.sliding_window, options.logits_soft_cap);
  VLLM_CHECK(cache.num_kv_heads > 0 && num_heads % cache.num_kv_heads == 0,
             "paged_attention: num_heads={} is not a multiple of num_kv_heads={}", num_heads,
             cache.num_kv_heads);
  const int64_t head_floats = num_heads * cache.head_dim;
  const int64_t num_tokens = static_cast<int64_t>(query.size()) / head_floats;
  check_size("paged_attention", "query", query.size(), num_tokens * head_floats);
  check_size("paged_attention", "out", out.size(), num_tokens * head_floats);

  const int64_t num_seqs = static_cast<int64_t>(metadata.seq_lens.size());
  check_size("paged_attention", "query_start_loc", metadata.query_start_loc.size(),
             num_seqs + 1);
  check_size("paged_attention", "block_tables", metadata.block_tables.size(),
             num_seqs * metadata.max_blocks_per_seq);
  VLLM_CHECK(num_seqs == 0 || (metadata.query_start_loc[0] == 0 &&
                               metadata.query_start_loc[num_seqs] == num_tokens),
             "paged_attention: query_start_loc must run from 0 to num_tokens={}", num_tokens);
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t query_len = metadata.query_start_loc[s + 1] - metadata.query_start_loc[s];
    const int64_t seq_len = metadata.seq_lens[s];
    VLLM_CHECK(query_len >= 0 && seq_len >= query_len,
               "paged_attention: sequence {} has {} new tokens but seq_len {}", s, query_len,
               seq_len);
    const int64_t num_blocks = (seq_len + cache.block_size - 1) / cache.block_size;
    VLLM_CHECK(num_blocks <= metadata.max_blocks_per_seq,
               "paged_attention: sequence {} needs {} blocks, block table has {}", s, num_blocks,
               metadata.max_blocks_per_seq);
    for (int64_t b = 0; b < num_blocks; ++b) {
      const int32_t block = metadata.block_tables[s * metadata.max_blocks_per_seq + b];
      VLLM_CHECK(block >= 0 && block < cache.num_blocks,
                 "paged_attention: sequence {} block {} is {}, outside [0, {})", s, b, block,
                 cache.num_blocks);
    }
  }
  if (num_tokens == 0) return;
  cpu::paged_attention(query.data(), num_tokens, num_heads, cache, metadata, options,
                       out.data());
}

void layer_norm(Device device, std::span<const float> x, std::span<const float> weight,
                std::span<const float> bias, double eps, std::span<float> out) {
  require_cpu(device, "layer_norm");
  const int64_t hidden = static_cast<int64_t>(weight.size());
  VLLM_CHECK(hidden > 0 && x.size() % weight.size() == 0,
             "layer_norm: x of {} elements is not rows of hidden_size {}", x.size(), hidden);
  if (!bias.empty()) check_size("layer_norm", "bias", bias.size(), hidden);
  check_size("layer_norm", "out", out.size(), static_cast<int64_t>(x.size()));
  cpu::layer_norm(x.data(), static_cast<int64_t>(x.size()) / hidden, hidden, weight.data(),
                  bias.empty() ? nullptr : bias.data(), eps, out.data());
}

void gelu_tanh(Device device, std::span<const float> x, std::span<float> out) {
  require_cpu(device, "gelu_tanh");
  check_size("gelu_tanh", "out", out.size(), static_cast<int64_t>(x.size()));
  cpu::gelu_tanh(x.data(), static_cast<int64_t>(x.size()), out.data());
}

void gelu_tanh_and_mul(Device device, std::span<const float> gate, std::span<const float> up,
                       std::span<float> out) {
  require_cpu(device, "gelu_tanh_and_mul");
  check_size("gelu_tanh_and_mul", "up", up.size(), static_cast<int64_t>(gate.size()));
  check_size("gelu_tanh_and_mul", "out", out.size(), static_cast<int64_t>(gate.size()));
  cpu::gelu_tanh_and_mul(gate.data(), up.data(), static_cast<int64_t>(gate.size()),
                         out.data());
}

void tanh_soft_cap(Device device, std::span<float> x, float cap) {
  require_cpu(device, "tanh_soft_cap");
  VLLM_CHECK(cap > 0.0f, "tanh_soft_cap: cap is {}, expected a positive value", cap);
  cpu::tanh_soft_cap(x.data(), static_cast<int64_t>(x.size()), cap);
}

}  // namespace ops
}  // namespace vllm
