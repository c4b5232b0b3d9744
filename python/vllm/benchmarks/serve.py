r"""`vllm bench serve`: online serving benchmark against a running OpenAI-compatible server.

Start a server (`vllm serve MODEL`), then run for example

    vllm bench serve --backend openai --endpoint /v1/completions \
        --dataset-name random --random-input-len 128 --random-output-len 64 \
        --num-prompts 32 --request-rate inf

Requests arrive at --request-rate per second (inf: all at once) with gamma-distributed
gaps whose shape is --burstiness (1: a Poisson process), at most --max-concurrency in
flight. Every request is streamed and greedy; the report is vLLM's "Serving Benchmark
Result" table, and --save-result writes vLLM's JSON fields.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Optional

from vllm.benchmarks.datasets import (
    SampleRequest,
    add_dataset_args,
    check_request_count,
    random_requests,
    sharegpt_conversations_for,
    sharegpt_requests,
    validate_dataset_args,
)
from vllm.benchmarks.request_func import (
    BACKENDS,
    RequestFuncInput,
    RequestFuncOutput,
    request_openai,
)
from vllm.benchmarks.utils import (
    mean,
    median,
    parse_percentiles,
    percentile,
    percentile_label,
    pstdev,
    write_json,
)

# Random prompts for a server draw token ids below this bound: the client has no tokenizer
# to ask for the vocabulary size, and every tokenizer in use has at least this many ids.
SERVE_RANDOM_VOCAB_BOUND = 10000

METRICS = ("ttft", "tpot", "itl", "e2el")
# (attribute, name in the report, section header), in vLLM's order.
_METRIC_SECTIONS = (
    ("ttft", "TTFT", "Time to First Token"),
    ("tpot", "TPOT", "Time per Output Token (excl. 1st token)"),
    ("itl", "ITL", "Inter-token Latency"),
    ("e2el", "E2EL", "End-to-end Latency"),
)
DEFAULT_ENDPOINTS = {"openai": "/v1/completions", "openai-chat": "/v1/chat/completions"}


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    # Where the server is and which API to call.
    parser.add_argument("--backend", choices=BACKENDS, default="openai",
                        help="API to call: openai (completions) or openai-chat "
                             "(default: %(default)s)")
    parser.add_argument("--base-url", default=None,
                        help="Server URL such as http://127.0.0.1:8000; replaces --host "
                             "and --port")
    parser.add_argument("--host", default="127.0.0.1", help="Server host (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000,
                        help="Server port (default: %(default)s)")
    parser.add_argument("--endpoint", default=None,
                        help="API path; default /v1/completions for openai, "
                             "/v1/chat/completions for openai-chat")
    parser.add_argument("--model", default=None,
                        help="Model name sent in requests; default: the server's first "
                             "model from /v1/models")

    # Traffic shape.
    parser.add_argument("--request-rate", type=float, default=float("inf"),
                        help="Requests per second; inf sends them all at once "
                             "(default: %(default)s)")
    parser.add_argument("--burstiness", type=float, default=1.0,
                        help="Shape of the gamma distribution of request gaps: 1 is a "
                             "Poisson process, lower is burstier (default: %(default)s)")
    parser.add_argument("--max-concurrency", type=int, default=None,
                        help="Maximum number of requests in flight; default: no limit")
    parser.add_argument("--ignore-eos", action="store_true",
                        help="Ask the server to generate every requested token")

    # Report and result file.
    parser.add_argument("--percentile-metrics", default="ttft,tpot,itl",
                        help="Comma-separated metrics to report percentiles of, from "
                             "ttft, tpot, itl, e2el (default: %(default)s)")
    parser.add_argument("--metric-percentiles", default="99",
                        help="Comma-separated percentiles to report, such as 25,50,99 "
                             "(default: %(default)s)")
    parser.add_argument("--save-result", action="store_true",
                        help="Write the results to a JSON file")
    parser.add_argument("--result-dir", default=None,
                        help="Folder of the result file; default: the current one")
    parser.add_argument("--result-filename", default=None,
                        help="Result file name; default: "
                             "{backend}-{request_rate}qps-{model}-{date}.json")
    parser.add_argument("--label", default=None,
                        help="Label of the run in the result file name; default: --backend")
    parser.add_argument("--disable-tqdm", action="store_true",
                        help="Do not show the progress bar")
    add_dataset_args(parser, add_seed=True)


@dataclass
class BenchmarkMetrics:
    completed: int
    failed: int
    total_input: int
    total_output: int
    request_throughput: float
    output_throughput: float
    total_token_throughput: float
    # Per metric name ("ttft", ...): the samples in milliseconds.
    samples_ms: dict[str, list[float]] = field(default_factory=dict)


def calculate_metrics(outputs: list[RequestFuncOutput], duration: float) -> BenchmarkMetrics:
    """Aggregate per-request timings; failed requests count only in `failed`."""
    ttfts, tpots, itls, e2els = [], [], [], []
    total_input = total_output = completed = 0
    for output in outputs:
        if not output.success:
            continue
        completed += 1
        total_input += output.prompt_len
        total_output += output.output_tokens
        ttfts.append(output.ttft * 1000)
        e2els.append(output.latency * 1000)
        itls.extend(gap * 1000 for gap in output.itl)
        if output.output_tokens > 1:
            tpots.append((output.latency - output.ttft) * 1000 / (output.output_tokens - 1))
    return BenchmarkMetrics(
        completed=completed,
        failed=len(outputs) - completed,
        total_input=total_input,
        total_output=total_output,
        request_throughput=completed / duration,
        output_throughput=total_output / duration,
        total_token_throughput=(total_input + total_output) / duration,
        samples_ms={"ttft": ttfts, "tpot": tpots, "itl": itls, "e2el": e2els},
    )


def format_report(metrics: BenchmarkMetrics, duration: float, args: argparse.Namespace,
                  selected: list[str], percentiles: list[float]) -> tuple[str, dict[str, Any]]:
    """Return vLLM's report table and the metric fields of the JSON result."""
    lines = ["{:=^50}".format(" Serving Benchmark Result ")]

    def row(label: str, value: Any, decimals: bool = True) -> None:
        lines.append(f"{label:<40} {value:<10.2f}" if decimals else f"{label:<40} {value:<10}")

    row("Successful requests:", metrics.completed, decimals=False)
    row("Failed requests:", metrics.failed, decimals=False)
    if args.max_concurrency is not None:
        row("Maximum request concurrency:", args.max_concurrency, decimals=False)
    if args.request_rate != float("inf"):
        row("Request rate configured (RPS):", args.request_rate)
    row("Benchmark duration (s):", duration)
    row("Total input tokens:", metrics.total_input, decimals=False)
    row("Total generated tokens:", metrics.total_output, decimals=False)
    row("Request throughput (req/s):", metrics.request_throughput)
    row("Output token throughput (tok/s):", metrics.output_throughput)
    row("Total Token throughput (tok/s):", metrics.total_token_throughput)

    fields: dict[str, Any] = {}
    for metric, name, header in _METRIC_SECTIONS:
        samples = metrics.samples_ms[metric]
        fields[f"mean_{metric}_ms"] = mean(samples)
        fields[f"median_{metric}_ms"] = median(samples)
        fields[f"std_{metric}_ms"] = pstdev(samples)
        for p in percentiles:
            fields[f"p{percentile_label(p)}_{metric}_ms"] = percentile(samples, p)
        if metric not in selected:
            continue
        lines.append("{:-^50}".format(header))
        row(f"Mean {name} (ms):", fields[f"mean_{metric}_ms"])
        row(f"Median {name} (ms):", fields[f"median_{metric}_ms"])
        for p in percentiles:
            label = percentile_label(p)
            row(f"P{label} {name} (ms):", fields[f"p{label}_{metric}_ms"])
    lines.append("=" * 50)
    return "\n".join(lines), fields


# Setup calls (model name, tokenization) run once before the benchmark, so plain blocking
# urllib is enough for them.
def _get_json(url: str, api_key: Optional[str]) -> Any:
    request = urllib.request.Request(url)
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _post_json(url: str, payload: dict[str, Any], api_key: Optional[str]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def server_model(base_url: str, api_key: Optional[str]) -> str:
    models = _get_json(f"{base_url}/v1/models", api_key).get("data") or []
    if not models:
        raise ValueError(f"{base_url}/v1/models lists no model; pass --model.")
    return models[0]["id"]


def load_requests(args: argparse.Namespace, base_url: str, model: str,
                  api_key: Optional[str]) -> list[SampleRequest]:
    """Return the dataset's requests; text prompts for openai-chat, as the API needs."""
    if args.dataset_name == "random":
        requests = random_requests(
            args.num_prompts, args.random_input_len, args.random_output_len,
            SERVE_RANDOM_VOCAB_BOUND, args.random_range_ratio, args.random_prefix_len,
            args.seed)
        if args.backend == "openai-chat":
            # Lengths stay the token counts drawn; the report uses the server's counts.
            for request in requests:
                request.prompt = _post_json(f"{base_url}/detokenize",
                                            {"model": model, "tokens": request.prompt},
                                            api_key)["prompt"]
    else:
        def count_tokens(text: str) -> int:
            reply = _post_json(f"{base_url}/tokenize",
                               {"model": model, "prompt": text, "add_special_tokens": False},
                               api_key)
            return int(reply["count"])

        requests = sharegpt_requests(sharegpt_conversations_for(args), args.num_prompts,
                                     count_tokens, args.sharegpt_output_len, args.seed)
    check_request_count(requests, args.num_prompts)
    return requests


async def arrivals(requests: list[SampleRequest], request_rate: float, burstiness: float,
                   rng: random.Random) -> AsyncIterator[SampleRequest]:
    """Yield the requests in order, spaced by gamma-distributed gaps of mean 1/rate."""
    for index, request in enumerate(requests):
        yield request
        if request_rate == float("inf") or index == len(requests) - 1:
            continue
        # Gamma(shape=burstiness, scale=1/(rate*burstiness)) has mean 1/rate.
        await asyncio.sleep(rng.gammavariate(burstiness, 1.0 / (request_rate * burstiness)))


async def benchmark(args: argparse.Namespace, api_url: str, model: str,
                    requests: list[SampleRequest], api_key: Optional[str]
                    ) -> tuple[list[RequestFuncOutput], float]:
    """Run the test request, then the timed run; return the outputs and the duration."""
    def request_input(sample: SampleRequest) -> RequestFuncInput:
        return RequestFuncInput(prompt=sample.prompt, prompt_len=sample.prompt_len,
                                output_len=sample.expected_output_len, model=model,
                                api_url=api_url, ignore_eos=args.ignore_eos, api_key=api_key)

    print("Starting initial single prompt test run...")
    test_output = await request_openai(args.backend, request_input(requests[0]))
    if not test_output.success:
        raise ValueError(
            "Initial test run failed - Please make sure benchmark arguments are correctly "
            f"specified. Error: {test_output.error}")
    print("Initial test run completed. Starting main benchmark run...")
    print(f"Traffic request rate: {args.request_rate}")
    print(f"Burstiness factor: {args.burstiness} "
          f"({'Poisson process' if args.burstiness == 1.0 else 'Gamma distribution'})")
    print(f"Maximum request concurrency: {args.max_concurrency}")

    progress = None
    if not args.disable_tqdm:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(requests))
    semaphore = (asyncio.Semaphore(args.max_concurrency)
                 if args.max_concurrency is not None else None)

    async def send(sample: SampleRequest) -> RequestFuncOutput:
        if semaphore is None:
            output = await request_openai(args.backend, request_input(sample))
        else:
            async with semaphore:
                output = await request_openai(args.backend, request_input(sample))
        if progress is not None:
            progress.update(1)
        return output

    rng = random.Random(args.seed)
    start = time.perf_counter()
    tasks = [asyncio.create_task(send(sample))
             async for sample in arrivals(requests, args.request_rate, args.burstiness, rng)]
    outputs = await asyncio.gather(*tasks)
    duration = time.perf_counter() - start
    if progress is not None:
        progress.close()
    return list(outputs), duration


def validate_args(args: argparse.Namespace) -> tuple[list[str], list[float]]:
    validate_dataset_args(args)
    if not args.request_rate > 0:
        raise ValueError(f"--request-rate must be positive, got {args.request_rate}.")
    if not args.burstiness > 0:
        raise ValueError(f"--burstiness must be positive, got {args.burstiness}.")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        raise ValueError(f"--max-concurrency must be at least 1, got {args.max_concurrency}.")
    selected = [m.strip() for m in args.percentile_metrics.split(",") if m.strip()]
    unknown = [m for m in selected if m not in METRICS]
    if unknown:
        raise ValueError(f"--percentile-metrics: unknown metric {unknown[0]!r}; use "
                         f"{', '.join(METRICS)}.")
    return selected, parse_percentiles(args.metric_percentiles)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark, print vLLM's report and return the JSON result."""
    selected, percentiles = validate_args(args)
    print(args)
    base_url = (args.base_url or f"http://{args.host}:{args.port}").rstrip("/")
    endpoint = args.endpoint or DEFAULT_ENDPOINTS[args.backend]
    api_url = base_url + endpoint
    api_key = os.environ.get("OPENAI_API_KEY") or os.environ.get("VLLM_API_KEY")
    try:
        model = args.model or server_model(base_url, api_key)
        requests = load_requests(args, base_url, model, api_key)
    except urllib.error.URLError as error:
        raise ValueError(f"cannot reach the server at {base_url}: {error}; start it with "
                         "`vllm serve` or pass --base-url.") from error
    outputs, duration = asyncio.run(benchmark(args, api_url, model, requests, api_key))

    metrics = calculate_metrics(outputs, duration)
    report, metric_fields = format_report(metrics, duration, args, selected, percentiles)
    print(report)

    result: dict[str, Any] = {
        "date": datetime.datetime.now().strftime("%Y%m%d-%H%M%S"),
        "backend": args.backend,
        "model_id": model,
        "num_prompts": args.num_prompts,
        "request_rate": args.request_rate if args.request_rate != float("inf") else "inf",
        "burstiness": args.burstiness,
        "max_concurrency": args.max_concurrency,
        "duration": duration,
        "completed": metrics.completed,
        "failed": metrics.failed,
        "total_input_tokens": metrics.total_input,
        "total_output_tokens": metrics.total_output,
        "request_throughput": metrics.request_throughput,
        "output_throughput": metrics.output_throughput,
        "total_token_throughput": metrics.total_token_throughput,
        "input_lens": [o.prompt_len for o in outputs],
        "output_lens": [o.output_tokens for o in outputs],
        "ttfts": [o.ttft for o in outputs],
        "itls": [o.itl for o in outputs],
        "generated_texts": [o.generated_text for o in outputs],
        "errors": [o.error for o in outputs],
        **metric_fields,
    }
    if args.save_result:
        filename = args.result_filename or (
            f"{args.label or args.backend}-{result['request_rate']}qps-"
            f"{os.path.basename(model)}-{result['date']}.json")
        path = os.path.join(args.result_dir, filename) if args.result_dir else filename
        if args.result_dir:
            os.makedirs(args.result_dir, exist_ok=True)
        write_json(path, result)
        print(f"Wrote {path}")
    return result
