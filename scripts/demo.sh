#!/usr/bin/env bash
# The README's main command: sets everything up on a fresh machine, then generates text with
# the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) through the `vllm` command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"

prompt="${1:-The three most useful things to know about the Python programming language are}"
stage_start "vllm generate"
"$VENV/bin/vllm" generate --max-tokens 64 --temperature 0 "$prompt"
stage_end
