#include "cli/client_commands.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/openai_client.h"

namespace vllm::cli {

using json = nlohmann::json;

namespace {

void add_client_options(CLI::App& command, ClientOptions& options) {
  command.add_option("--url", options.url, "Base URL of the OpenAI-compatible API server")
      ->capture_default_str();
  command.add_option("--model-name", options.model_name,
                     "Model name to send; the first model listed by the server when omitted");
  command.add_option("--api-key", options.api_key,
                     "API key sent as a bearer token; $OPENAI_API_KEY when omitted");
  command.add_option("-q,--quick", options.quick,
                     "Send this single message, print the reply and exit");
  command.add_option("--max-tokens", options.max_tokens,
                     "Maximum number of tokens per reply; the server's default when omitted");
}

std::string resolve_api_key(const ClientOptions& options) {
  if (!options.api_key.empty()) return options.api_key;
  const char* environment = std::getenv("OPENAI_API_KEY");
  if (environment != nullptr && *environment != '\0') return environment;
  return "EMPTY";   // the placeholder vLLM's client sends when no key is set
}

// Connects and picks the model, printing it as vLLM does.
std::string resolve_model(const OpenAIClient& client, const ClientOptions& options) {
  std::string model = options.model_name;
  if (model.empty()) {
    const json models = client.get_json("/models");
    if (!models.contains("data") || !models["data"].is_array() || models["data"].empty()) {
      throw ClientError(fmt::format("the server at {} lists no models; pass --model-name.",
                                    client.base_url()));
    }
    model = models["data"][0].value("id", "");
  }
  std::printf("Using model: %s\n", model.c_str());
  std::fflush(stdout);
  return model;
}

// Prints the prompt marker and reads one line; false at the end of the input.
bool read_line(std::string& line) {
  std::printf("> ");
  std::fflush(stdout);
  return static_cast<bool>(std::getline(std::cin, line));
}

void print_delta(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Streams one chat reply to stdout and returns its text.
std::string stream_chat_reply(const OpenAIClient& client, const std::string& model,
                              const json& conversation, const ClientOptions& options) {
  json body = {{"model", model}, {"messages", conversation}, {"stream", true}};
  if (options.max_tokens.has_value()) body["max_tokens"] = *options.max_tokens;
  std::string reply;
  client.stream("/chat/completions", body, [&reply](const json& chunk) {
    const json& choices = chunk.value("choices", json::array());
    if (choices.empty()) return;
    const json& delta = choices[0].value("delta", json::object());
    if (!delta.contains("content") || !delta["content"].is_string()) return;
    const std::string text = delta["content"].get<std::string>();
    reply += text;
    print_delta(text);
  });
  std::printf("\n");
  std::fflush(stdout);
  return reply;
}

void stream_completion(const OpenAIClient& client, const std::string& model,
                       const std::string& prompt, const ClientOptions& options) {
  json body = {{"model", model}, {"prompt", prompt}, {"stream", true}};
  if (options.max_tokens.has_value()) body["max_tokens"] = *options.max_tokens;
  client.stream("/completions", body, [](const json& chunk) {
    const json& choices = chunk.value("choices", json::array());
    if (choices.empty() || !choices[0].contains("text") || !choices[0]["text"].is_string()) {
      return;
    }
    print_delta(choices[0]["text"].get<std::string>());
  });
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

CLI::App* add_chat_command(CLI::App& app, ClientOptions& options) {
  CLI::App* chat = app.add_subcommand(
      "chat", "Chat with a running API server: one message per input line, with history");
  add_client_options(*chat, options);
  chat->add_option("--system-prompt", options.system_prompt,
                   "System message that starts the conversation");
  return chat;
}

CLI::App* add_complete_command(CLI::App& app, ClientOptions& options) {
  CLI::App* complete = app.add_subcommand(
      "complete", "Complete prompts with a running API server: one prompt per input line");
  add_client_options(*complete, options);
  return complete;
}

int run_chat(const ClientOptions& options) {
  const OpenAIClient client(options.url, resolve_api_key(options));
  const std::string model = resolve_model(client, options);
  json conversation = json::array();
  if (options.system_prompt.has_value()) {
    conversation.push_back({{"role", "system"}, {"content", *options.system_prompt}});
  }
  auto exchange = [&](const std::string& message) {
    conversation.push_back({{"role", "user"}, {"content", message}});
    const std::string reply = stream_chat_reply(client, model, conversation, options);
    conversation.push_back({{"role", "assistant"}, {"content", reply}});
  };

  if (options.quick.has_value()) {
    exchange(*options.quick);
    return 0;
  }
  std::printf("Please enter a message for the chat model:\n");
  std::string line;
  while (read_line(line)) exchange(line);
  return 0;
}

int run_complete(const ClientOptions& options) {
  const OpenAIClient client(options.url, resolve_api_key(options));
  const std::string model = resolve_model(client, options);
  if (options.quick.has_value()) {
    stream_completion(client, model, *options.quick, options);
    return 0;
  }
  std::printf("Please enter prompt to complete:\n");
  std::string line;
  while (read_line(line)) stream_completion(client, model, line, options);
  return 0;
}

}  // namespace vllm::cli
