#include "layers/rotary_embedding.h"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "core/errors.h"

namespace vllm {
namespace {

// Llama 3.1's frequency smoothing (transformers' _compute_llama3_parameters): wavelengths
// below original_max / high_freq_factor keep their frequency, those above
// original_max / low_freq_factor are divided by `factor`, and the band between blends the two.
void apply_llama3_scaling(const RopeScaling& scaling, std::vector<float>& inv_freq) {
  const auto factor = static_cast<float>(scaling.factor);
  const auto low = static_cast<float>(scaling.low_freq_factor);
  const auto high = static_cast<float>(scaling.high_freq_factor);
  const auto old_context_len = static_cast<float>(scaling.original_max_position_embeddings);
  const float low_freq_wavelen = old_context_len / low;
  const float high_freq_wavelen = old_context_len / high;
  for (float& f : inv_freq) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    if (wavelen < high_freq_wavelen) continue;
    if (wavelen > low_freq_wavelen) {
      f = f / factor;
      continue;
    }
    const float smooth = (old_context_len / wavelen - low) / (high - low);
    f = (1.0f - smooth) * f / factor + smooth * f;
  }
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double rope_theta, RotaryStyle style,
                                 int64_t rotary_dim, const RopeScaling& scaling,
                                 int64_t max_position_embeddings)
    : head_dim_(head_dim), rotary_dim_(rotary_dim == 0 ? head_dim : rotary_dim), style_(style) {
  if (rotary_dim_ <= 0 || rotary_dim_ % 2 != 0 || rotary_dim_ > head_dim_) {
    throw ModelLoadError(fmt::format("rotary dimension {} is not a positive even number up to "
                                     "head_dim {}",
                                     rotary_dim_, head_dim_));
  }
  // Computed in float32 as transformers' rotary embeddings do:
  // inv_freq[i] = 1 / theta^(2i / rotary_dim), angle = float(position) * inv_freq[i].
  const float theta = static_cast<float>(rope_theta);
  const int64_t num_pairs = rotary_dim_ / 2;
  for (int64_t i = 0; i < num_pairs; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rotary_dim_);
    inv_freq_.push_back(1.0f / std::pow(theta, exponent));
  }

  if (!scaling.freq_factors.empty()) {
    if (static_cast<int64_t>(scaling.freq_factors.size()) != num_pairs) {
      throw ModelLoadError(fmt::format("rope frequency factors have {} entries, expected "
                                       "rotary_dim / 2 = {}",
                                       scaling.freq_factors.size(), num_pairs));
    }
    for (int64_t i = 0; i < num_pairs; ++i) {
      inv_freq_[i] /= static_cast<float>(scaling.freq_factors[i]);
    }
  }

  const std::string& type = scaling.rope_type;
  if (type == "default") return;
  if (type == "linear") {
    for (float& f : inv_freq_) f /= static_cast<float>(scaling.factor);
  } else if (type == "llama3") {
    apply_llama3_scaling(scaling, inv_freq_);
  } else if (type == "longrope") {
    const int64_t original_max = scaling.original_max_position_embeddings;
    // NOTE: transformers picks the long factors per forward call, when the sequence is
    // longer than original_max_position_embeddings, so its cached keys depend on how far
    // the sequence had grown. Here the choice is fixed per model so that a token's output
    // never depends on the batch or the chunking: long factors whenever the model is
    // configured beyond its original context. Sequences shorter than that context differ
    // from transformers.
    const bool use_long = max_position_embeddings > original_max;
    const std::vector<double>& ext = use_long ? scaling.long_factor : scaling.short_factor;
    if (static_cast<int64_t>(ext.size()) != num_pairs) {
      throw ModelLoadError(fmt::format("longrope {} has {} entries, expected rotary_dim / 2 = {}",
                                       use_long ? "long_factor" : "short_factor", ext.size(),
                                       num_pairs));
    }
    for (int64_t i = 0; i < num_pairs; ++i) {
      // transformers: 1 / (ext * theta^(2i / dim)), all in float32.
      const float exponent = static_cast<float>(2 * i) / static_cast<float>(rotary_dim_);
      inv_freq_[i] = 1.0f / (static_cast<float>(ext[i]) * std::pow(theta, exponent));
    }
    double attention_factor = 1.0;
    if (scaling.attention_factor) {
      attention_factor = *scaling.attention_factor;
    } else {
      const double factor = static_cast<double>(max_position_embeddings) /
                            static_cast<double>(original_max);
      if (factor > 1.0) {
        attention_factor =
            std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(original_max)));
      }
    }
    attention_factor_ = static_cast<float>(attention_factor);
  } else {
    throw ModelLoadError(fmt::format(
        "rope type '{}' is not supported; supported: default, linear, llama3, longrope", type));
  }
}

void RotaryEmbedding::compute_cos_sin(std::span<const int32_t> positions,
                                      std::vector<float>& cos_sin) const {
  cos_sin.resize(positions.size() * static_cast<size_t>(rotary_dim_));
  size_t i = 0;
  for (int32_t position : positions) {
    for (float inv_freq : inv_freq_) {
      const float angle = static_cast<float>(position) * inv_freq;
      cos_sin[i++] = std::cos(angle) * attention_factor_;
      cos_sin[i++] = std::sin(angle) * attention_factor_;
    }
  }
}

void RotaryEmbedding::forward(std::span<const float> cos_sin, std::span<float> query,
                              std::span<float> key, int64_t num_heads,
                              int64_t num_kv_heads) const {
  ops::rotary_embedding(Device::kCpu, cos_sin, query, key, num_heads, num_kv_heads, head_dim_,
                        style_, rotary_dim_);
}

}  // namespace vllm
