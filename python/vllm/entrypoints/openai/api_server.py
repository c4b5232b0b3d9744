"""`python -m vllm.entrypoints.openai.api_server --model M ...`: the OpenAI-compatible server.

This is the C++ `vllm serve` program under vLLM's older module name; the flags are the
same, and the process is replaced by that program.
"""

import os
import sys

from vllm.entrypoints.cli.main import cli_executable


def main() -> None:
    executable = cli_executable()
    if not os.access(executable, os.X_OK):
        print(
            f"Error: the vllm program is missing at {executable}; reinstall the package "
            "with `pip install .` from the source checkout.",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(executable, ["vllm", "serve", *sys.argv[1:]])


if __name__ == "__main__":
    main()
