#!/usr/bin/env python3
"""Prefix caching: requests sharing a long system prompt, with caching on and off.

Each of --num-requests prompts is one shared system prompt of --system-prompt-len token
ids followed by a distinct question of --question-len token ids (both random, seeded).
Requests arrive together (--request-rate inf) or as a Poisson process, are greedy with
ignore_eos and generate --output-len tokens each. The same requests run once with prefix
caching on and once off, each on a freshly loaded engine, and the script reports:

  TTFT        mean / median / p99 of each request's time to first token (from arrival);
  throughput  requests/s, total (prompt + output) tokens/s and output tokens/s over the
              run, from the first arrival to the last token;
  hit rate    cached prompt tokens / prompt tokens, from RequestOutput.num_cached_tokens
              (and the engine's prefix_cache_hits / prefix_cache_queries where published).

Usage (after `pip install .`; run on an otherwise idle machine):

    python benchmarks/prefix_caching.py --output-json benchmarks/results/prefix_caching.json
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import sys
import time

from vllm import LLM, SamplingParams
from vllm.benchmarks.datasets import random_token_ids
from vllm.benchmarks.engine_timing import EngineTimer, engine_stat
from vllm.benchmarks.utils import mean, median, percentile


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct",
                        help="model path or name (default: %(default)s)")
    parser.add_argument("--num-requests", type=int, default=100,
                        help="requests sharing the system prompt (default: %(default)s)")
    parser.add_argument("--system-prompt-len", type=int, default=1000,
                        help="tokens of the shared system prompt (default: %(default)s)")
    parser.add_argument("--question-len", type=int, default=24,
                        help="tokens of each request's own question (default: %(default)s)")
    parser.add_argument("--output-len", type=int, default=32,
                        help="generated tokens per request (default: %(default)s)")
    parser.add_argument("--request-rate", type=float, default=float("inf"),
                        help="arrivals per second, Poisson; inf: all at once "
                             "(default: %(default)s)")
    parser.add_argument("--modes", default="on,off",
                        help="caching settings to run, in order (default: %(default)s)")
    parser.add_argument("--max-num-seqs", type=int, default=None,
                        help="engine max_num_seqs; default: the engine's")
    parser.add_argument("--max-num-batched-tokens", type=int, default=None,
                        help="engine token budget per step; default: the engine's")
    parser.add_argument("--kv-cache-memory-bytes", type=int, default=2 << 30,
                        help="KV cache size in bytes (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the prompts and arrivals (default: %(default)s)")
    parser.add_argument("--output-json", default=None, help="also write the results here")
    return parser.parse_args()


def build_prompts(args: argparse.Namespace, vocab_size: int) -> list[list[int]]:
    rng = random.Random(args.seed)
    system = random_token_ids(rng, args.system_prompt_len, vocab_size)
    return [system + random_token_ids(rng, args.question_len, vocab_size)
            for _ in range(args.num_requests)]


def run_mode(args: argparse.Namespace, caching: bool) -> dict:
    engine_kwargs = {key: value for key, value in (
        ("max_num_seqs", args.max_num_seqs),
        ("max_num_batched_tokens", args.max_num_batched_tokens),
    ) if value is not None}
    llm = LLM(model=args.model, enable_prefix_caching=caching,
              max_model_len=args.system_prompt_len + args.question_len + args.output_len,
              kv_cache_memory_bytes=args.kv_cache_memory_bytes, **engine_kwargs)
    vocab_size = llm.get_tokenizer().vocab_size
    prompts = build_prompts(args, vocab_size)
    params = SamplingParams(temperature=0.0, max_tokens=args.output_len, ignore_eos=True,
                            detokenize=False)

    # One unrelated request first, so that one-time costs (page faults on the mapped
    # weights, thread start-up) stay out of the figures; it shares no prefix.
    warmup = EngineTimer(llm)
    warmup.add("warmup", random_token_ids(random.Random(-1), 64, vocab_size),
               SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True))
    warmup.run_all()
    queries_before = engine_stat(llm, "prefix_cache_queries")
    hits_before = engine_stat(llm, "prefix_cache_hits")

    timer = EngineTimer(llm)
    arrival_rng = random.Random(args.seed + 1)
    start = time.perf_counter()
    try:
        for index, prompt in enumerate(prompts):
            timer.add(f"req-{index}", prompt, params)
            if args.request_rate != float("inf") and index + 1 < len(prompts):
                next_arrival = time.perf_counter() + arrival_rng.expovariate(args.request_rate)
                timer.run_until(lambda: time.perf_counter() >= next_arrival)
        timer.run_all()
    except BaseException:
        timer.abort_unfinished()
        raise
    requests = list(timer.requests.values())
    end = max(r.token_times[-1] for r in requests)
    elapsed = end - start

    for request in requests:
        if len(request.token_times) != args.output_len:
            sys.exit(f"error: {request.request_id} generated {len(request.token_times)} "
                     f"tokens, expected {args.output_len}; the figures would be wrong")
    ttfts_ms = [r.ttft * 1000 for r in requests]
    prompt_tokens = sum(r.prompt_len for r in requests)
    cached_tokens = sum(r.num_cached_tokens for r in requests)
    output_tokens = sum(len(r.token_times) for r in requests)
    result = {
        "enable_prefix_caching": caching,
        "elapsed_s": elapsed,
        "mean_ttft_ms": mean(ttfts_ms),
        "median_ttft_ms": median(ttfts_ms),
        "p99_ttft_ms": percentile(ttfts_ms, 99),
        "requests_per_s": len(requests) / elapsed,
        "total_tokens_per_s": (prompt_tokens + output_tokens) / elapsed,
        "output_tokens_per_s": output_tokens / elapsed,
        "prompt_tokens": prompt_tokens,
        "cached_prompt_tokens": cached_tokens,
        "hit_rate": cached_tokens / prompt_tokens,
        "num_threads": llm.llm_engine.args.num_threads,
        "max_num_batched_tokens": llm.llm_engine.args.max_num_batched_tokens,
    }
    queries_after = engine_stat(llm, "prefix_cache_queries")
    hits_after = engine_stat(llm, "prefix_cache_hits")
    if None not in (queries_before, hits_before, queries_after, hits_after):
        queries = queries_after - queries_before
        result["engine_hit_rate"] = (hits_after - hits_before) / queries if queries else 0.0
    del timer, warmup, llm
    gc.collect()
    return result


def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_table(results: list[dict]) -> None:
    rows = (
        ("TTFT mean (ms)", "mean_ttft_ms", "{:.1f}"),
        ("TTFT median (ms)", "median_ttft_ms", "{:.1f}"),
        ("TTFT p99 (ms)", "p99_ttft_ms", "{:.1f}"),
        ("requests/s", "requests_per_s", "{:.3f}"),
        ("total tokens/s", "total_tokens_per_s", "{:.1f}"),
        ("output tokens/s", "output_tokens_per_s", "{:.1f}"),
        ("duration (s)", "elapsed_s", "{:.2f}"),
        ("prefix-cache hit rate", "hit_rate", "{:.1%}"),
        ("engine hit rate", "engine_hit_rate", "{:.1%}"),
    )
    header = f"{'':<24}" + "".join(
        f"{'caching ' + ('on' if r['enable_prefix_caching'] else 'off'):>16}" for r in results)
    print(header)
    for label, key, fmt in rows:
        if not any(key in r for r in results):
            continue
        cells = "".join(f"{fmt.format(r[key]) if key in r else 'n/a':>16}" for r in results)
        print(f"{label:<24}{cells}")


def main() -> None:
    args = parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("on", "off") for m in modes):
        sys.exit(f"error: --modes takes 'on' and 'off', got {args.modes!r}")
    print(f"CPU: {cpu_model_name()}, {os.cpu_count()} logical CPUs; model {args.model}; "
          f"{args.num_requests} requests of {args.system_prompt_len} shared + "
          f"{args.question_len} own prompt tokens, {args.output_len} output tokens; "
          f"request rate {args.request_rate}")
    results = []
    for mode in modes:
        results.append(run_mode(args, caching=mode == "on"))
        print(f"caching {mode}: done in {results[-1]['elapsed_s']:.2f} s", flush=True)
    print_table(results)
    if args.output_json:
        with open(args.output_json, "w", encoding="utf-8") as file:
            json.dump({
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
                "cpu_model": cpu_model_name(),
                "num_cpus": os.cpu_count(),
                "args": {k: v for k, v in vars(args).items()
                         if k != "request_rate"} | {"request_rate": str(args.request_rate)},
                "results": results,
            }, file, indent=2)
            file.write("\n")
        print(f"wrote {args.output_json}")


if __name__ == "__main__":
    main()
