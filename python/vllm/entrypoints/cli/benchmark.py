"""`vllm bench latency|throughput|serve`: vLLM's benchmark commands, run in Python.

Exit status as for the C++ subcommands: 0 on success, 1 when the benchmark fails (the
message goes to stderr as "Error: ..."), 2 for invalid flags.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

_SUBCOMMANDS = {
    "latency": ("vllm.benchmarks.latency",
                "Benchmark the latency of a single batch of requests"),
    "throughput": ("vllm.benchmarks.throughput", "Benchmark offline inference throughput"),
    "serve": ("vllm.benchmarks.serve", "Benchmark the online serving throughput"),
}


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="vllm bench",
                                     description="Benchmark latency, throughput or serving")
    subparsers = parser.add_subparsers(dest="bench_type", metavar="{latency,throughput,serve}",
                                       required=True)
    for name, (module_name, help_text) in _SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_cli_args(sub)
        sub.set_defaults(run_benchmark=module.run)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # The function is no benchmark option, so it stays out of the printed namespace.
    run_benchmark = args.run_benchmark
    del args.run_benchmark
    try:
        run_benchmark(args)
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        sys.stdout.flush()
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
