#!/usr/bin/env python3
"""Chunked prefill: decoding requests' inter-token latency while a long prompt arrives.

--num-decoders requests (prompts of --decoder-prompt-len random token ids, greedy,
ignore_eos) decode until each has --warmup-tokens tokens; then one prompt of
--long-prompt-len token ids arrives. The run ends once the long prompt has its first
token and every decoder has --tail-tokens more tokens after that; the rest is aborted.

Each setting of --budgets is one run on a freshly loaded engine with that
max_num_batched_tokens. A budget smaller than the long prompt splits its prefill over
several steps, each shared with the decoders (chunked prefill); a budget of at least the
long prompt plus one token per decoder (the default 8192 for a 4,000-token prompt) puts
the whole prompt in one step with enable_chunked_prefill=False, and the decoders wait for
that step. Reported per run, over the decoders' tokens after the long prompt arrived:

  ITL mean / p99     gaps between successive tokens of each decoder;
  max gap            the longest gap of any decoder that overlaps the long prefill (from
                     the long prompt's arrival to its first token);
  steady ITL         mean gap before the long prompt arrived, for reference;
  long TTFT          the long prompt's time to first token;
  prefill steps      whether the long prompt's prefill spanned several steps (the engine's
                     num_multi_step_prefills counter grew while it ran).

Usage (after `pip install .`; run on an otherwise idle machine):

    python benchmarks/chunked_prefill.py --output-json benchmarks/results/chunked_prefill.json
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import random
import sys
import time

from vllm import LLM, SamplingParams
from vllm.benchmarks.datasets import random_token_ids
from vllm.benchmarks.engine_timing import EngineTimer, TimedRequest, engine_stat
from vllm.benchmarks.utils import mean, percentile


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct",
                        help="model path or name (default: %(default)s)")
    parser.add_argument("--num-decoders", type=int, default=16,
                        help="requests decoding when the long prompt arrives "
                             "(default: %(default)s)")
    parser.add_argument("--decoder-prompt-len", type=int, default=32,
                        help="prompt tokens of each decoder (default: %(default)s)")
    parser.add_argument("--warmup-tokens", type=int, default=8,
                        help="tokens every decoder has before the long prompt arrives "
                             "(default: %(default)s)")
    parser.add_argument("--tail-tokens", type=int, default=8,
                        help="tokens every decoder gets after the long prompt's first "
                             "token before the run ends (default: %(default)s)")
    parser.add_argument("--long-prompt-len", type=int, default=4000,
                        help="tokens of the long prompt (default: %(default)s)")
    parser.add_argument("--budgets", default="256,512,8192",
                        help="max_num_batched_tokens of each run; one at least the long "
                             "prompt plus --num-decoders runs unchunked "
                             "(default: %(default)s)")
    parser.add_argument("--max-decoder-tokens", type=int, default=2048,
                        help="max_tokens of each decoder; the run aborts them before "
                             "(default: %(default)s)")
    parser.add_argument("--kv-cache-memory-bytes", type=int, default=1 << 30,
                        help="KV cache size in bytes (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the prompts (default: %(default)s)")
    parser.add_argument("--output-json", default=None, help="also write the results here")
    return parser.parse_args()


def run_budget(args: argparse.Namespace, budget: int) -> dict:
    chunked = budget < args.long_prompt_len + args.num_decoders
    max_model_len = max(args.long_prompt_len + 1, args.decoder_prompt_len + args.max_decoder_tokens)
    if not chunked:
        budget = max(budget, max_model_len)  # vLLM's rule with chunked prefill off
    llm = LLM(model=args.model, max_model_len=max_model_len, max_num_batched_tokens=budget,
              max_num_seqs=max(args.num_decoders + 1, 2), enable_chunked_prefill=chunked,
              kv_cache_memory_bytes=args.kv_cache_memory_bytes)
    vocab_size = llm.get_tokenizer().vocab_size
    rng = random.Random(args.seed)
    decoder_prompts = [random_token_ids(rng, args.decoder_prompt_len, vocab_size)
                       for _ in range(args.num_decoders)]
    long_prompt = random_token_ids(rng, args.long_prompt_len, vocab_size)

    warmup = EngineTimer(llm)
    warmup.add("warmup", random_token_ids(random.Random(-1), 64, vocab_size),
               SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True))
    warmup.run_all()

    timer = EngineTimer(llm)
    decode_params = SamplingParams(temperature=0.0, max_tokens=args.max_decoder_tokens,
                                   ignore_eos=True, detokenize=False)
    try:
        decoders = [timer.add(f"decoder-{i}", prompt, decode_params)
                    for i, prompt in enumerate(decoder_prompts)]
        timer.run_until(lambda: all(len(d.token_times) >= args.warmup_tokens for d in decoders))
        multi_step_before = engine_stat(llm, "num_multi_step_prefills")
        long_request = timer.add("long", long_prompt,
                                 SamplingParams(temperature=0.0, max_tokens=1, ignore_eos=True,
                                                detokenize=False))
        timer.run_until(lambda: bool(long_request.token_times))
        first_token = long_request.token_times[0]
        multi_step_after = engine_stat(llm, "num_multi_step_prefills")
        counts = {d.request_id: len(d.token_times) for d in decoders}
        timer.run_until(lambda: all(len(d.token_times) >= counts[d.request_id] + args.tail_tokens
                                    or d.finished for d in decoders))
    finally:
        timer.abort_unfinished()

    result = summarize(decoders, long_request.arrival, first_token)
    result.update({
        "max_num_batched_tokens": budget,
        "enable_chunked_prefill": chunked,
        "long_ttft_ms": (first_token - long_request.arrival) * 1000,
        "long_prefill_multi_step": (None if multi_step_before is None
                                    else multi_step_after > multi_step_before),
        "num_threads": llm.llm_engine.args.num_threads,
    })
    del timer, warmup, llm
    gc.collect()
    return result


def summarize(decoders: list[TimedRequest], arrival: float, first_token: float) -> dict:
    """Return the decoders' gap statistics around the long prompt, in milliseconds."""
    before, after, overlapping = [], [], []
    for decoder in decoders:
        times = decoder.token_times
        for previous, current in zip(times, times[1:]):
            gap_ms = (current - previous) * 1000
            (after if current > arrival else before).append(gap_ms)
            # A gap overlaps the long prefill when it ends after the arrival and starts
            # before the long prompt's first token.
            if current > arrival and previous < first_token:
                overlapping.append(gap_ms)
    return {
        "steady_itl_ms": mean(before),
        "mean_itl_ms": mean(after),
        "p99_itl_ms": percentile(after, 99),
        "max_gap_during_prefill_ms": max(overlapping, default=0.0),
        "num_gaps": len(after),
    }


def print_table(results: list[dict]) -> None:
    rows = (
        ("steady ITL mean (ms)", "steady_itl_ms", "{:.1f}"),
        ("ITL mean (ms)", "mean_itl_ms", "{:.1f}"),
        ("ITL p99 (ms)", "p99_itl_ms", "{:.1f}"),
        ("max gap in prefill (ms)", "max_gap_during_prefill_ms", "{:.1f}"),
        ("long prompt TTFT (ms)", "long_ttft_ms", "{:.1f}"),
        ("prefill over steps", "long_prefill_multi_step", "{}"),
    )
    header = f"{'max_num_batched_tokens':<26}" + "".join(
        f"{r['max_num_batched_tokens']:>14}" for r in results)
    print(header)
    for label, key, fmt in rows:
        print(f"{label:<26}" + "".join(f"{fmt.format(r[key]):>14}" for r in results))


def main() -> None:
    args = parse_args()
    try:
        budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        sys.exit(f"error: --budgets takes comma-separated integers, got {args.budgets!r}")
    if not budgets or min(budgets) < 1:
        sys.exit(f"error: --budgets must list positive token counts, got {args.budgets!r}")
    print(f"model {args.model}; {args.num_decoders} decoders of {args.decoder_prompt_len} "
          f"prompt tokens; long prompt {args.long_prompt_len} tokens after "
          f"{args.warmup_tokens} decoder tokens; {os.cpu_count()} logical CPUs")
    results = []
    for budget in budgets:
        start = time.perf_counter()
        results.append(run_budget(args, budget))
        print(f"budget {budget}: done in {time.perf_counter() - start:.1f} s", flush=True)
    print_table(results)
    if args.output_json:
        with open(args.output_json, "w", encoding="utf-8") as file:
            json.dump({
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
                "num_cpus": os.cpu_count(),
                "args": vars(args),
                "results": results,
            }, file, indent=2)
            file.write("\n")
        print(f"wrote {args.output_json}")


if __name__ == "__main__":
    main()
