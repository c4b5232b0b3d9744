// `vllm serve [MODEL]`: the OpenAI-compatible HTTP server.
#pragma once

#include <CLI/CLI.hpp>

#include "server/server_args.h"

namespace vllm::cli {

// Adds the `serve` subcommand, whose flags fill `args`; returns it so that main() can
// check whether it was selected.
CLI::App* add_serve_command(CLI::App& app, server::ServerArgs& args);

// Runs the server until SIGINT or SIGTERM; returns the exit status.
int run_serve(server::ServerArgs& args);

}  // namespace vllm::cli
