#!/usr/bin/env python3
"""Measure offline generation throughput of the vllm package.

Two scenarios, both greedy with ignore_eos so that every request produces exactly
--output-len tokens from a prompt of exactly --input-len random token ids:

  single prompt   time to first token (a max_tokens=1 request) gives the prefill rate,
                  a full request minus that time gives the decode rate. Each of
                  --num-iters runs uses a fresh prompt; the median is reported.
  batch           --num-prompts prompts submitted together in one generate() call;
                  reports output tokens/s and total (prompt + output) tokens/s.

Usage (after `pip install .` into the active venv):

    python benchmarks/benchmark_throughput.py --output-json results.json

Results of a run are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import sys
import time

from vllm import LLM, SamplingParams

# Token ids below this bound are special tokens in the default model (SmolLM2 uses 0-16);
# random prompts stay above it so that they contain ordinary text tokens only.
MIN_PROMPT_TOKEN_ID = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct",
                        help="model path or name, as for LLM(model=...) (default: %(default)s)")
    parser.add_argument("--input-len", type=int, default=128,
                        help="prompt length in tokens (default: %(default)s)")
    parser.add_argument("--output-len", type=int, default=128,
                        help="generated tokens per request (default: %(default)s)")
    parser.add_argument("--num-prompts", type=int, default=32,
                        help="number of concurrent prompts in the batch scenario "
                             "(default: %(default)s)")
    parser.add_argument("--num-iters", type=int, default=3,
                        help="repetitions of the single-prompt scenario (default: %(default)s)")
    parser.add_argument("--max-num-seqs", type=int, default=None,
                        help="engine max_num_seqs; default: the engine's")
    parser.add_argument("--max-num-batched-tokens", type=int, default=None,
                        help="engine token budget per step; default: the engine's")
    parser.add_argument("--kv-cache-memory-bytes", type=int, default=None,
                        help="KV cache size in bytes; default: the engine's")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random prompts (default: %(default)s)")
    parser.add_argument("--output-json", default=None,
                        help="also write the results to this JSON file")
    return parser.parse_args()


def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def vocab_size_of(llm: LLM) -> int:
    config = getattr(llm, "model_config", None)
    size = getattr(config, "vocab_size", None)
    if size:
        return int(size)
    return len(llm.get_tokenizer())


def random_prompts(rng: random.Random, count: int, length: int,
                   vocab_size: int) -> list[dict]:
    return [{"prompt_token_ids": [rng.randrange(MIN_PROMPT_TOKEN_ID, vocab_size)
                                  for _ in range(length)]}
            for _ in range(count)]


def timed_generate(llm: LLM, prompts: list[dict], params: SamplingParams):
    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    return outputs, time.perf_counter() - start


def check_lengths(outputs, expected: int) -> None:
    for output in outputs:
        num_tokens = len(output.outputs[0].token_ids)
        if num_tokens != expected:
            sys.exit(f"error: request {output.request_id} generated {num_tokens} tokens, "
                     f"expected {expected}; the figures would be wrong")


def params_for(max_tokens: int) -> SamplingParams:
    return SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)


def bench_single(llm: LLM, args, rng: random.Random, vocab_size: int) -> dict:
    """Return prefill and decode rates of one request at a time (median of the runs)."""
    ttfts, decode_rates, totals = [], [], []
    for _ in range(args.num_iters):
        prompt = random_prompts(rng, 1, args.input_len, vocab_size)
        # The first-token request and the full request use the same prompt. The engine may
        # reuse a cached prefix for the second one; if so, the decode rate comes out high
        # by at most the prefill time, which is small next to output-len decode steps.
        outputs, ttft = timed_generate(llm, prompt, params_for(1))
        check_lengths(outputs, 1)
        outputs, total = timed_generate(llm, prompt, params_for(args.output_len))
        check_lengths(outputs, args.output_len)
        ttfts.append(ttft)
        totals.append(total)
        if args.output_len > 1 and total > ttft:
            decode_rates.append((args.output_len - 1) / (total - ttft))

    ttft = statistics.median(ttfts)
    return {
        "time_to_first_token_s": ttft,
        "prefill_tokens_per_s": args.input_len / ttft,
        "decode_tokens_per_s": statistics.median(decode_rates) if decode_rates else None,
        "request_latency_s": statistics.median(totals),
    }


def bench_batch(llm: LLM, args, rng: random.Random, vocab_size: int) -> dict:
    """Return throughput of --num-prompts requests submitted together."""
    prompts = random_prompts(rng, args.num_prompts, args.input_len, vocab_size)
    outputs, elapsed = timed_generate(llm, prompts, params_for(args.output_len))
    check_lengths(outputs, args.output_len)
    num_output = sum(len(o.outputs[0].token_ids) for o in outputs)
    num_prompt = sum(len(o.prompt_token_ids) for o in outputs)
    return {
        "num_prompts": args.num_prompts,
        "elapsed_s": elapsed,
        "requests_per_s": args.num_prompts / elapsed,
        "output_tokens_per_s": num_output / elapsed,
        "total_tokens_per_s": (num_prompt + num_output) / elapsed,
    }


def main() -> None:
    args = parse_args()
    engine_kwargs = {key: value for key, value in (
        ("max_num_seqs", args.max_num_seqs),
        ("max_num_batched_tokens", args.max_num_batched_tokens),
        ("kv_cache_memory_bytes", args.kv_cache_memory_bytes),
    ) if value is not None}

    load_start = time.perf_counter()
    llm = LLM(model=args.model, max_model_len=args.input_len + args.output_len,
              **engine_kwargs)
    load_s = time.perf_counter() - load_start
    engine_args = llm.llm_engine.args
    num_threads = getattr(engine_args, "num_threads", None)

    machine = {
        "cpu_model": cpu_model_name(),
        "num_cpus": os.cpu_count(),
        "num_cpus_available": len(os.sched_getaffinity(0)),
        "num_threads": num_threads,
        "python": platform.python_version(),
    }
    print(f"CPU: {machine['cpu_model']}, {machine['num_cpus']} logical CPUs "
          f"({machine['num_cpus_available']} available), engine threads: {num_threads}")
    print(f"model: {args.model}, loaded in {load_s:.2f} s; input {args.input_len} tokens, "
          f"output {args.output_len} tokens, greedy, ignore_eos")

    rng = random.Random(args.seed)
    vocab_size = vocab_size_of(llm)
    # One short request first, so that one-time costs (page faults on the mapped weights,
    # thread start-up) do not land in the first measurement.
    timed_generate(llm, random_prompts(rng, 1, args.input_len, vocab_size), params_for(4))

    single = bench_single(llm, args, rng, vocab_size)
    decode = single["decode_tokens_per_s"]
    decode_text = f"{decode:.1f} tok/s" if decode is not None else "n/a (output-len 1)"
    print(f"single prompt: time to first token {single['time_to_first_token_s'] * 1e3:.1f} ms, "
          f"prefill {single['prefill_tokens_per_s']:.1f} tok/s, decode {decode_text}")

    batch = bench_batch(llm, args, rng, vocab_size)
    print(f"{batch['num_prompts']} concurrent prompts: {batch['elapsed_s']:.2f} s, "
          f"{batch['requests_per_s']:.2f} requests/s, "
          f"output {batch['output_tokens_per_s']:.1f} tok/s, "
          f"total {batch['total_tokens_per_s']:.1f} tok/s")

    if args.output_json:
        result = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
            "machine": machine,
            "model": args.model,
            "input_len": args.input_len,
            "output_len": args.output_len,
            "load_s": load_s,
            "single": single,
            "batch": batch,
        }
        with open(args.output_json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(f"wrote {args.output_json}")


if __name__ == "__main__":
    main()
