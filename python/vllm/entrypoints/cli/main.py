"""The `vllm` console command.

Every subcommand but `bench` runs the C++ `vllm` program shipped in the package
(vllm/bin/vllm), which replaces this Python process, so `vllm generate ...` behaves exactly
as the C++ program does. `vllm bench ...` runs the Python benchmarks
(vllm.entrypoints.cli.benchmark), and `vllm --version` prints the version here without
starting the program.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cli_executable() -> Path:
    """Return the path of the C++ `vllm` program inside the installed package."""
    return Path(__file__).resolve().parents[2] / "bin" / "vllm"


def exec_cli(arguments: list[str]) -> None:
    """Replace this process with the C++ `vllm` program run with `arguments`."""
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
    os.execv(executable, ["vllm", *arguments])


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-v"]):
        from vllm import __version__

        print(__version__)
        return
    if sys.argv[1:2] == ["bench"]:
        from vllm.entrypoints.cli.benchmark import main as bench_main

        sys.exit(bench_main(sys.argv[2:]))
    exec_cli(sys.argv[1:])


if __name__ == "__main__":
    main()
