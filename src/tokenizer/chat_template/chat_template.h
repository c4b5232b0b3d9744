// Chat template rendering with output byte-identical to HF transformers' apply_chat_template,
// which renders with Python jinja2 3.1 in an ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and the loopcontrols extension, plus HF's `tojson` filter
// (json.dumps with ensure_ascii=False), raise_exception() and strftime_now().
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace vllm {

namespace jinja {
struct ParsedTemplate;
}

class ChatTemplate {
 public:
  // Parses `source`; throws InvalidArgument with line and column on a syntax error, and when
  // the source exceeds jinja::kMaxTemplateSourceBytes or nests deeper than
  // jinja::kMaxRecursionDepth.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Renders the conversation. The template's variables are `messages` (an array of message
  // objects), `add_generation_prompt`, and every key of `extra_context` (an object). Callers
  // pass bos_token, eos_token and the other special tokens, `tools`, `documents` and
  // chat_template_kwargs in `extra_context`. As in HF, `tools` and `documents` are None when not given, and a
  // message whose reasoning is under "reasoning_content", "thinking" or "reasoning" gets it
  // under both "thinking" and "reasoning_content".
  // Objects must keep the key order of the request, because `tojson` and `items()` print keys
  // in that order; hence ordered_json.
  // Throws InvalidArgument: with the template's message verbatim for raise_exception(), with
  // jinja2's message for other runtime errors (undefined values, type errors), and naming the
  // limit when a limit of chat_template/limits.h is exceeded. Thread-safe: renders share no
  // mutable state.
  std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                     const nlohmann::ordered_json& extra_context = nlohmann::ordered_json::object()) const;
  // Renders nlohmann::json input.
  // NOTE: nlohmann::json stores object keys sorted, so the request's key order is already lost.
  // `tojson` of tool schemas can then differ from HF's output, so prefer ordered_json.
  std::string render(const nlohmann::json& messages, bool add_generation_prompt,
                     const nlohmann::json& extra_context = nlohmann::json::object()) const;

 private:
  std::unique_ptr<jinja::ParsedTemplate> parsed_;
};

}  // namespace vllm
