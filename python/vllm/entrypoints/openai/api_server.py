"""`python -m vllm.entrypoints.openai.api_server --model M ...`: the OpenAI-compatible server.

This is the C++ `vllm serve` program under vLLM's older module name; the flags are the
same, and the process is replaced by that program.
"""

import sys

from vllm.entrypoints.cli.main import exec_cli


def main() -> None:
    exec_cli(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    main()
