// `vllm chat` and `vllm complete`: interactive clients of a running OpenAI-compatible
// server, with vLLM's flags. Replies are streamed to stdout as they arrive.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace vllm::cli {

struct ClientOptions {
  std::string url = "http://localhost:8000/v1";
  std::string model_name;      // empty: the first model of GET /v1/models
  std::string api_key;         // empty: $OPENAI_API_KEY, else "EMPTY" as vLLM sends it
  std::optional<std::string> quick;           // send this one message, then exit
  std::optional<std::string> system_prompt;   // chat only
  std::optional<int> max_tokens;              // empty: the server's default
};

// Register the subcommands; the caller checks parsed() on the returned command.
CLI::App* add_chat_command(CLI::App& app, ClientOptions& options);
CLI::App* add_complete_command(CLI::App& app, ClientOptions& options);

// Run the commands. Return the exit status; a ClientError (server down, 401, ...) is
// thrown to the caller, which prints it as one line.
int run_chat(const ClientOptions& options);
int run_complete(const ClientOptions& options);

}  // namespace vllm::cli
