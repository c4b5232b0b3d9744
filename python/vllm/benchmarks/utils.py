"""Helpers shared by the bench commands: percentiles, engine options, JSON output."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from typing import Any, Optional, Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (0-100) with linear interpolation between ranks.

    This is numpy.percentile's default ("linear") method, which vLLM's reports use; numpy
    itself is not a dependency here. Empty input gives 0.0, as vLLM reports for a metric
    with no samples.
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    lower = math.floor(rank)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (rank - lower)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def pstdev(values: Sequence[float]) -> float:
    """Population standard deviation, as numpy.std (vLLM's std_*_ms fields)."""
    return statistics.pstdev(values) if values else 0.0


def parse_percentiles(text: str) -> list[float]:
    """Parse "50,90,99" into [50.0, 90.0, 99.0]; raise ValueError outside (0, 100]."""
    values = []
    for item in text.split(","):
        value = float(item)
        if not 0.0 < value <= 100.0:
            raise ValueError(f"percentiles must be in (0, 100], got {item!r}.")
        values.append(value)
    return values


def percentile_label(p: float) -> str:
    """Return "99" for 99.0 and "99.9" for 99.9, as vLLM names its pNN fields."""
    return str(int(p)) if int(p) == p else str(p)


def add_engine_args(parser: argparse.ArgumentParser) -> None:
    """Add the engine options of the offline commands, with vLLM's flag names."""
    group = parser.add_argument_group("engine options")
    group.add_argument("--model", default="SmolLM2-135M-Instruct",
                       help="Path of a .gguf file or HF model directory, or the default "
                            "model's name (default: %(default)s)")
    group.add_argument("--max-model-len", type=int, default=None,
                       help="Context length in tokens; default: derived from the requests "
                            "(latency) or the model's")
    group.add_argument("--max-num-seqs", type=int, default=None,
                       help="Maximum number of sequences per engine step")
    group.add_argument("--max-num-batched-tokens", type=int, default=None,
                       help="Token budget of one engine step")
    group.add_argument("--block-size", type=int, default=None,
                       help="KV cache block size in tokens")
    group.add_argument("--kv-cache-memory-bytes", type=int, default=None,
                       help="KV cache size in bytes")
    group.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction,
                       default=True, help="Reuse cached blocks of shared prefixes "
                                          "(default: on)")
    group.add_argument("--enable-chunked-prefill", action=argparse.BooleanOptionalAction,
                       default=None, help="Split long prompts over several engine steps "
                                          "(default: on)")
    group.add_argument("--scheduling-policy", choices=("fcfs", "priority"), default="fcfs",
                       help="Request order (default: %(default)s)")
    group.add_argument("--seed", type=int, default=0,
                       help="Seed of the engine and of the dataset sampling "
                            "(default: %(default)s)")
    group.add_argument("--dtype", default="auto", help="Compute type (default: %(default)s)")


def engine_kwargs(args: argparse.Namespace, max_model_len: Optional[int] = None) -> dict[str, Any]:
    """Return LLM(...) keyword arguments from add_engine_args' options.

    `max_model_len` is used when --max-model-len is absent.
    """
    kwargs: dict[str, Any] = {
        "model": args.model,
        "dtype": args.dtype,
        "seed": args.seed,
        "enable_prefix_caching": args.enable_prefix_caching,
        "scheduling_policy": args.scheduling_policy,
        "max_model_len": args.max_model_len if args.max_model_len is not None else max_model_len,
    }
    if args.enable_chunked_prefill is not None:
        kwargs["enable_chunked_prefill"] = args.enable_chunked_prefill
    for name in ("max_num_seqs", "max_num_batched_tokens", "block_size",
                 "kv_cache_memory_bytes"):
        value = getattr(args, name)
        if value is not None:
            kwargs[name] = value
    return kwargs


def write_json(path: str, result: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=4)
        file.write("\n")
