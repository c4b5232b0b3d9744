// POST /tokenize and POST /detokenize, with vLLM's request and response fields.
#include <fmt/format.h>

#include "server/errors.h"
#include "server/server_context.h"
#include "tokenizer/tokenizer.h"

namespace vllm::server {

using json = nlohmann::ordered_json;

void handle_tokenize(ServerContext& context, const HttpRequest& request,
                     ResponseWriter& writer) {
  const json body = parse_json_body(request.message.body(), context.max_json_depth,
                                    content_type_of(request));
  const Tokenizer& tokenizer = context.engine->tokenizer();
  check_model(context, body.contains("model") && body["model"].is_string()
                           ? std::optional<std::string>(body["model"].get<std::string>())
                           : std::nullopt);
  auto get_flag = [&](const char* name, bool default_value) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) return default_value;
    if (!it->is_boolean()) throw bad_request(fmt::format("{} must be a boolean.", name), name);
    return it->get<bool>();
  };

  std::vector<int32_t> ids;
  if (body.contains("messages")) {
    // Rendered as a chat request, whose template adds BOS itself.
    const ChatRequest chat = parse_chat_request(body);
    ids = tokenizer.encode(render_chat_prompt(context, chat),
                           get_flag("add_special_tokens", false));
  } else {
    const auto prompt = body.find("prompt");
    if (prompt == body.end() || !prompt->is_string()) {
      throw bad_request("prompt must be a string (or pass messages).", "prompt");
    }
    ids = tokenizer.encode(prompt->get<std::string>(), get_flag("add_special_tokens", true));
  }

  json token_strs = nullptr;
  if (get_flag("return_token_strs", false)) {
    token_strs = json::array();
    for (int32_t id : ids) token_strs.push_back(tokenizer.id_to_token(id));
  }
  send_json(writer, 200,
            json{{"count", ids.size()},
                 {"max_model_len", context.max_model_len},
                 {"tokens", ids},
                 {"token_strs", std::move(token_strs)}});
}

void handle_detokenize(ServerContext& context, const HttpRequest& request,
                       ResponseWriter& writer) {
  const json body = parse_json_body(request.message.body(), context.max_json_depth,
                                    content_type_of(request));
  const Tokenizer& tokenizer = context.engine->tokenizer();
  const auto tokens = body.find("tokens");
  if (tokens == body.end() || !tokens->is_array()) {
    throw bad_request("tokens must be a list of token ids.", "tokens");
  }
  std::vector<int32_t> ids;
  for (const json& token : *tokens) {
    if (!token.is_number_integer() || token.get<int64_t>() < 0 ||
        token.get<int64_t>() >= tokenizer.vocab_size()) {
      throw bad_request(fmt::format("Invalid token id {} in tokens (vocabulary size {}).",
                                    token.dump(), tokenizer.vocab_size()),
                        "tokens");
    }
    ids.push_back(token.get<int32_t>());
  }
  send_json(writer, 200, json{{"prompt", tokenizer.decode(ids, false)}});
}

}  // namespace vllm::server
