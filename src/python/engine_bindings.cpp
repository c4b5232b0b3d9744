// Bindings of LLMEngine, its arguments, statistics and model config, and of the tokenizer
// it owns. Every call that can block (model load, tokenization, waiting for outputs) runs
// with the GIL released, so other Python threads keep running meanwhile.
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "models/model_config.h"
#include "python/bindings.h"
#include "tokenizer/chat_template/chat_messages.h"
#include "tokenizer/chat_template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "vllm/engine.h"

namespace py = pybind11;

namespace vllm::python {
namespace {

void bind_engine_args(py::module_& m) {
  // Zero in a numeric field means "derive it", as the C++ struct documents.
  py::class_<EngineArgs>(m, "EngineArgs")
      .def(py::init<>())
      .def_readwrite("model", &EngineArgs::model)
      .def_readwrite("revision", &EngineArgs::revision)
      .def_readwrite("dtype", &EngineArgs::dtype)
      .def_readwrite("generation_config", &EngineArgs::generation_config)
      .def_readwrite("max_model_len", &EngineArgs::max_model_len)
      .def_readwrite("max_num_seqs", &EngineArgs::max_num_seqs)
      .def_readwrite("max_num_batched_tokens", &EngineArgs::max_num_batched_tokens)
      .def_readwrite("block_size", &EngineArgs::block_size)
      .def_readwrite("kv_cache_memory_bytes", &EngineArgs::kv_cache_memory_bytes)
      .def_readwrite("num_threads", &EngineArgs::num_threads)
      .def_readwrite("seed", &EngineArgs::seed)
      .def_readwrite("enable_prefix_caching", &EngineArgs::enable_prefix_caching)
      .def_readwrite("enable_chunked_prefill", &EngineArgs::enable_chunked_prefill)
      .def_readwrite("scheduling_policy", &EngineArgs::scheduling_policy);
}

void bind_engine_stats(py::module_& m) {
  py::class_<EngineStats>(m, "EngineStats")
      .def_readonly("num_steps", &EngineStats::num_steps)
      .def_readonly("num_preemptions", &EngineStats::num_preemptions)
      .def_readonly("max_running_in_step", &EngineStats::max_running_in_step)
      .def_readonly("num_multi_step_prefills", &EngineStats::num_multi_step_prefills)
      .def_readonly("num_running", &EngineStats::num_running)
      .def_readonly("num_waiting", &EngineStats::num_waiting)
      .def_readonly("num_free_blocks", &EngineStats::num_free_blocks)
      .def_readonly("num_total_blocks", &EngineStats::num_total_blocks)
      .def_readonly("prefix_cache_queries", &EngineStats::prefix_cache_queries)
      .def_readonly("prefix_cache_hits", &EngineStats::prefix_cache_hits);
}

void bind_model_config(py::module_& m) {
  py::class_<ModelConfig>(m, "ModelConfig")
      .def_readonly("architecture", &ModelConfig::architecture)
      .def_readonly("model_type", &ModelConfig::model_type)
      .def_readonly("vocab_size", &ModelConfig::vocab_size)
      .def_readonly("hidden_size", &ModelConfig::hidden_size)
      .def_readonly("intermediate_size", &ModelConfig::intermediate_size)
      .def_readonly("num_hidden_layers", &ModelConfig::num_hidden_layers)
      .def_readonly("num_attention_heads", &ModelConfig::num_attention_heads)
      .def_readonly("num_key_value_heads", &ModelConfig::num_key_value_heads)
      .def_readonly("head_dim", &ModelConfig::head_dim)
      .def_readonly("max_position_embeddings", &ModelConfig::max_position_embeddings)
      .def_readonly("rms_norm_eps", &ModelConfig::rms_norm_eps)
      .def_readonly("rope_theta", &ModelConfig::rope_theta)
      .def_readonly("tie_word_embeddings", &ModelConfig::tie_word_embeddings)
      .def_readonly("dtype", &ModelConfig::dtype)
      .def_readonly("quantization", &ModelConfig::quantization);
}

std::chrono::milliseconds to_milliseconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    throw py::value_error("timeout must be a finite number of seconds >= 0");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000.0)));
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  // Owned by the engine: Python only ever holds references that keep the engine alive.
  py::class_<Tokenizer>(m, "Tokenizer")
      .def(
          "encode",
          [](const Tokenizer& tokenizer, const std::string& text, bool add_special_tokens) {
            py::gil_scoped_release release;
            return tokenizer.encode(text, add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = true)
      .def(
          "decode",
          [](const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
             bool skip_special_tokens) {
            py::gil_scoped_release release;
            return tokenizer.decode(ids, skip_special_tokens);
          },
          py::arg("ids"), py::arg("skip_special_tokens") = false)
      .def("id_to_token", &Tokenizer::id_to_token, py::arg("id"))
      .def("token_to_id", &Tokenizer::token_to_id, py::arg("token"))
      .def("is_special", &Tokenizer::is_special, py::arg("id"))
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("bos_token_id", &Tokenizer::bos_token_id)
      .def_property_readonly("eos_token_id", &Tokenizer::eos_token_id)
      .def_property_readonly("chat_template", &Tokenizer::chat_template);
}

void bind_engine(py::module_& m) {
  bind_engine_args(m);
  bind_engine_stats(m);
  bind_model_config(m);

  // Messages and context travel as JSON text, so that the template keeps the caller's key
  // order (tojson output depends on it) without a Python-to-JSON converter here.
  m.def(
      "render_chat_template",
      [](const std::string& source, const std::string& messages_json,
         bool add_generation_prompt, const std::string& context_json) {
        const auto messages = nlohmann::ordered_json::parse(messages_json);
        const auto context = nlohmann::ordered_json::parse(context_json);
        py::gil_scoped_release release;
        return ChatTemplate(source).render(messages, add_generation_prompt, context);
      },
      py::arg("source"), py::arg("messages_json"), py::arg("add_generation_prompt"),
      py::arg("context_json"),
      "Render a Jinja2 chat template as HF transformers does; raises ValueError on a "
      "template error or raise_exception().");
  m.def(
      "parse_chat_messages",
      [](const std::string& messages_json) {
        return parse_chat_messages(nlohmann::ordered_json::parse(messages_json)).dump();
      },
      py::arg("messages_json"),
      "Bring OpenAI-style chat messages (JSON text) to the shape chat templates read, as "
      "vLLM does: content parts joined into one string, null or absent content as \"\". "
      "Raises ValueError on an invalid message.");
  m.def("resolve_model_path", &resolve_model_path, py::arg("model"),
        "Resolve a model reference (path or default short name) to a local path.");

  py::class_<LLMEngine>(m, "LLMEngine")
      .def(py::init<EngineArgs>(), py::arg("args"), py::call_guard<py::gil_scoped_release>())
      .def(
          "add_request",
          [](LLMEngine& engine, const std::string& request_id,
             std::optional<std::string> prompt, std::vector<int32_t> prompt_token_ids,
             const SamplingParams& params) {
            PromptInput input{std::move(prompt), std::move(prompt_token_ids)};
            py::gil_scoped_release release;
            engine.add_request(request_id, input, params);
          },
          py::arg("request_id"), py::arg("prompt"), py::arg("prompt_token_ids"),
          py::arg("params"))
      .def("abort_request", &LLMEngine::abort_request, py::arg("request_ids"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "get_outputs",
          [](LLMEngine& engine, double timeout_s) {
            const auto timeout = to_milliseconds(timeout_s);
            std::vector<RequestOutput> outputs;
            {
              py::gil_scoped_release release;
              outputs = engine.get_outputs(timeout);
            }
            return outputs;
          },
          py::arg("timeout_s"),
          "Wait up to timeout_s seconds, then return the cumulative outputs of the requests "
          "that advanced since the last call.")
      .def("reset_prefix_cache", &LLMEngine::reset_prefix_cache,
           py::call_guard<py::gil_scoped_release>())
      .def("has_unfinished_requests", &LLMEngine::has_unfinished_requests)
      .def("stats", &LLMEngine::stats)
      .def("default_sampling_params", &LLMEngine::default_sampling_params,
           "SamplingParams whose temperature, top_p, top_k, min_p, repetition_penalty and "
           "max_tokens come from the generation config (EngineArgs.generation_config).")
      .def_property_readonly("tokenizer", &LLMEngine::tokenizer,
                             py::return_value_policy::reference_internal)
      // Copies, so that writing a field in Python cannot change the running engine.
      .def_property_readonly("model_config", &LLMEngine::model_config,
                             py::return_value_policy::copy)
      .def_property_readonly("args", &LLMEngine::args, py::return_value_policy::copy);
}

}  // namespace vllm::python
