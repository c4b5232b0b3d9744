// The OpenAI-compatible API server: loads the engine, serves HTTP until SIGINT or SIGTERM.
#pragma once

#include "server/server_args.h"

namespace vllm::server {

// Blocks until the server stops; returns the process exit status. Throws ModelLoadError
// or InvalidArgument when the engine or the listening socket cannot be set up.
int run_api_server(const ServerArgs& args);

// Returns the chat template text of --chat-template: the file's contents when it names a
// readable file, else the argument itself when it looks like Jinja2. Throws
// InvalidArgument otherwise, as vLLM does.
std::string load_chat_template(const std::string& path_or_template);

}  // namespace vllm::server
