"""`vllm bench throughput`: offline throughput of one batch of dataset requests.

Every request goes to LLM.generate at once (ignore_eos, temperature 1.0, max_tokens = the
request's expected output length). Token counts come from the outputs, so the figures
count what the engine did, not what the dataset asked for.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from vllm.benchmarks.datasets import (
    SampleRequest,
    add_dataset_args,
    check_request_count,
    random_requests,
    sharegpt_conversations_for,
    sharegpt_requests,
    validate_dataset_args,
)
from vllm.benchmarks.utils import add_engine_args, engine_kwargs, write_json


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-len", type=int, default=None,
                        help="Prompt length of the random dataset; same as "
                             "--random-input-len")
    parser.add_argument("--output-len", type=int, default=None,
                        help="Output length of every request; overrides the dataset's")
    parser.add_argument("--n", type=int, default=1,
                        help="Samples generated per prompt (default: %(default)s)")
    parser.add_argument("--output-json", default=None,
                        help="Write the throughput results to this JSON file")
    parser.add_argument("--disable-detokenize", action="store_true",
                        help="Accepted for vLLM compatibility; outputs are always "
                             "detokenized here")
    add_engine_args(parser)
    add_dataset_args(parser, add_seed=False)


def apply_length_overrides(args: argparse.Namespace) -> None:
    """Fold --input-len and --output-len into the dataset options, as vLLM does."""
    if args.input_len is not None:
        args.random_input_len = args.input_len
    if args.output_len is not None:
        args.random_output_len = args.output_len
        args.sharegpt_output_len = args.output_len


def load_requests(args: argparse.Namespace, tokenizer: Any) -> list[SampleRequest]:
    if args.dataset_name == "random":
        requests = random_requests(
            args.num_prompts, args.random_input_len, args.random_output_len,
            tokenizer.vocab_size, args.random_range_ratio, args.random_prefix_len, args.seed)
    else:
        conversations = sharegpt_conversations_for(args)
        requests = sharegpt_requests(
            conversations, args.num_prompts, lambda text: len(tokenizer.encode(text)),
            args.sharegpt_output_len, args.seed)
    check_request_count(requests, args.num_prompts)
    return requests


def max_len_of(requests: list[SampleRequest]) -> int:
    return max(r.prompt_len + r.expected_output_len for r in requests)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark, print vLLM's report and return the JSON result."""
    from vllm import LLM, SamplingParams

    apply_length_overrides(args)
    validate_dataset_args(args)
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}.")
    print(args)

    llm = LLM(**engine_kwargs(args))
    requests = load_requests(args, llm.get_tokenizer())
    if max_len_of(requests) > llm.max_model_len:
        raise ValueError(
            f"The longest request needs {max_len_of(requests)} tokens, which exceeds "
            f"max_model_len {llm.max_model_len}; raise --max-model-len or shorten the "
            "requests.")
    prompts = [{"prompt_token_ids": r.prompt} if isinstance(r.prompt, list)
               else {"prompt": r.prompt} for r in requests]
    params = [SamplingParams(n=args.n, temperature=1.0, top_p=1.0, ignore_eos=True,
                             max_tokens=r.expected_output_len) for r in requests]

    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=True)
    elapsed = time.perf_counter() - start

    total_prompt_tokens = sum(len(o.prompt_token_ids) for o in outputs)
    total_output_tokens = sum(len(s.token_ids) for o in outputs for s in o.outputs)
    total_num_tokens = total_prompt_tokens + total_output_tokens
    print(f"Throughput: {len(requests) / elapsed:.2f} requests/s, "
          f"{total_num_tokens / elapsed:.2f} total tokens/s, "
          f"{total_output_tokens / elapsed:.2f} output tokens/s")
    print(f"Total num prompt tokens:  {total_prompt_tokens}")
    print(f"Total num output tokens:  {total_output_tokens}")

    result = {
        "elapsed_time": elapsed,
        "num_requests": len(requests),
        "total_num_tokens": total_num_tokens,
        "total_prompt_tokens": total_prompt_tokens,
        "total_output_tokens": total_output_tokens,
        "requests_per_second": len(requests) / elapsed,
        "tokens_per_second": total_num_tokens / elapsed,
        "output_tokens_per_second": total_output_tokens / elapsed,
    }
    if args.output_json:
        write_json(args.output_json, result)
    return result
