"""`vllm bench latency`: the time to process one batch of requests, end to end.

Each iteration submits --batch-size prompts of --input-len random token ids and waits for
all of them to generate --output-len tokens (ignore_eos, temperature 1.0, --n samples
each). Reports the mean latency and its 10/25/50/75/90/99th percentiles, as vLLM does.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from vllm.benchmarks.datasets import random_token_ids
from vllm.benchmarks.utils import add_engine_args, engine_kwargs, mean, percentile, write_json

PERCENTILES = (10, 25, 50, 75, 90, 99)


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-len", type=int, default=32,
                        help="Prompt length in tokens (default: %(default)s)")
    parser.add_argument("--output-len", type=int, default=128,
                        help="Generated tokens per sample (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="Prompts per iteration (default: %(default)s)")
    parser.add_argument("--n", type=int, default=1,
                        help="Samples generated per prompt (default: %(default)s)")
    parser.add_argument("--num-iters-warmup", type=int, default=10,
                        help="Iterations run before measuring (default: %(default)s)")
    parser.add_argument("--num-iters", type=int, default=30,
                        help="Measured iterations (default: %(default)s)")
    parser.add_argument("--output-json", default=None,
                        help="Write the latencies to this JSON file")
    parser.add_argument("--disable-detokenize", action="store_true",
                        help="Accepted for vLLM compatibility; outputs are always "
                             "detokenized here")
    add_engine_args(parser)


def validate_args(args: argparse.Namespace) -> None:
    for name in ("input_len", "output_len", "batch_size", "n", "num_iters"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got "
                             f"{getattr(args, name)}.")
    if args.num_iters_warmup < 0:
        raise ValueError(f"--num-iters-warmup must be >= 0, got {args.num_iters_warmup}.")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark, print vLLM's report and return the JSON result."""
    import random

    from vllm import LLM, SamplingParams

    validate_args(args)
    print(args)
    llm = LLM(**engine_kwargs(args, max_model_len=args.input_len + args.output_len))
    params = SamplingParams(n=args.n, temperature=1.0, top_p=1.0, ignore_eos=True,
                            max_tokens=args.output_len)
    rng = random.Random(args.seed)
    vocab_size = llm.get_tokenizer().vocab_size
    prompts = [{"prompt_token_ids": random_token_ids(rng, args.input_len, vocab_size)}
               for _ in range(args.batch_size)]

    def run_once() -> float:
        start = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        elapsed = time.perf_counter() - start
        for output in outputs:
            for sample in output.outputs:
                if len(sample.token_ids) != args.output_len:
                    raise RuntimeError(
                        f"request {output.request_id} generated {len(sample.token_ids)} "
                        f"tokens, expected {args.output_len}; the latency would be wrong")
        return elapsed

    print("Warming up...")
    for _ in range(args.num_iters_warmup):
        run_once()
    latencies = []
    for index in range(args.num_iters):
        latencies.append(run_once())
        print(f"Profiling iteration {index + 1}/{args.num_iters}: {latencies[-1]:.4f} s",
              flush=True)

    avg_latency = mean(latencies)
    percentiles = {str(p): percentile(latencies, p) for p in PERCENTILES}
    print(f"Avg latency: {avg_latency} seconds")
    for p in PERCENTILES:
        print(f"{p}% percentile latency: {percentiles[str(p)]} seconds")
    result = {"avg_latency": avg_latency, "latencies": latencies, "percentiles": percentiles}
    if args.output_json:
        write_json(args.output_json, result)
    return result
