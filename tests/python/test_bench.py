"""`vllm bench latency|throughput|serve`: datasets, metrics, the streaming client (against
a scripted SSE server) and small real runs whose JSON counts must add up."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import vllm_command

from vllm.benchmarks import datasets, serve, utils
from vllm.benchmarks.request_func import RequestFuncInput, RequestFuncOutput, request_openai

# A small context and KV cache keep each run fast and its memory use low.
SMALL_ENGINE = ("--max-model-len", "256", "--kv-cache-memory-bytes", str(32 << 20))
RUN_ENV = {**os.environ, "VLLM_LOGGING_LEVEL": "WARNING"}


def run_bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    # `python -m` runs the same main() as the console script, for whichever vllm is importable.
    return subprocess.run(
        [sys.executable, "-m", "vllm.entrypoints.cli.main", "bench", *args],
        capture_output=True, text=True, timeout=timeout, env=RUN_ENV)


# Percentiles: numpy's linear method, checked on hand-computed values.

def test_percentile_interpolates():
    assert utils.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_percentile_top():
    assert utils.percentile([5.0, 1.0, 3.0], 100) == 5.0


def test_percentile_p99():
    values = [float(v) for v in range(1, 101)]
    assert utils.percentile(values, 99) == pytest.approx(99.01)


def test_percentile_empty():
    assert utils.percentile([], 99) == 0.0


def test_percentile_label():
    assert utils.percentile_label(99.0) == "99"
    assert utils.percentile_label(99.9) == "99.9"


def test_parse_percentiles_rejects_zero():
    with pytest.raises(ValueError, match="'0'"):
        utils.parse_percentiles("0,50")


# Datasets.

def test_length_range():
    assert datasets.length_range(100, 0.25) == (75, 125)
    assert datasets.length_range(1, 0.5) == (1, 2)


def test_random_lengths_fixed():
    requests = datasets.random_requests(5, 12, 7, vocab_size=1000)
    assert [r.prompt_len for r in requests] == [12] * 5
    assert [len(r.prompt) for r in requests] == [12] * 5
    assert [r.expected_output_len for r in requests] == [7] * 5


def test_random_lengths_in_range():
    requests = datasets.random_requests(50, 40, 20, vocab_size=1000, range_ratio=0.5)
    assert all(20 <= r.prompt_len <= 60 for r in requests)
    assert all(10 <= r.expected_output_len <= 30 for r in requests)
    assert len({r.prompt_len for r in requests}) > 1


def test_random_ids_skip_special_tokens():
    requests = datasets.random_requests(20, 30, 1, vocab_size=200)
    ids = [t for r in requests for t in r.prompt]
    assert min(ids) >= datasets.MIN_RANDOM_TOKEN_ID
    assert max(ids) < 200


def test_random_prefix_shared():
    requests = datasets.random_requests(3, 5, 1, vocab_size=1000, prefix_len=8)
    assert requests[0].prompt[:8] == requests[1].prompt[:8] == requests[2].prompt[:8]
    assert requests[0].prompt_len == 13


def test_random_seeded():
    first = datasets.random_requests(2, 10, 3, vocab_size=1000, seed=7)
    again = datasets.random_requests(2, 10, 3, vocab_size=1000, seed=7)
    other = datasets.random_requests(2, 10, 3, vocab_size=1000, seed=8)
    assert first == again
    assert first != other


def test_sharegpt_sample_layout(tmp_path):
    path = tmp_path / "sample.json"
    datasets.write_sharegpt(str(path), datasets.sample_sharegpt_conversations(10, seed=1))
    loaded = datasets.load_sharegpt(str(path))
    assert len(loaded) == 10
    turns = loaded[0]["conversations"]
    assert [t["from"] for t in turns] == ["human", "gpt"]
    assert all(isinstance(t["value"], str) and t["value"] for t in turns)


def word_count(text: str) -> int:
    return len(text.split())


def test_sharegpt_requests_use_token_counts():
    conversations = datasets.sample_sharegpt_conversations(20, seed=2)
    requests = datasets.sharegpt_requests(conversations, 5, word_count)
    assert len(requests) == 5
    for request in requests:
        assert request.prompt_len == word_count(request.prompt)


def test_sharegpt_filters_short():
    conversations = [
        {"conversations": [{"from": "human", "value": "a b"},
                           {"from": "gpt", "value": "one two three four five"}]},
        {"conversations": [{"from": "human", "value": "one two three four"},
                           {"from": "gpt", "value": "x y z w v"}]},
        {"conversations": [{"from": "human", "value": "only one turn"}]},
    ]
    requests = datasets.sharegpt_requests(conversations, 10, word_count)
    assert [r.prompt for r in requests] == ["one two three four"]
    assert requests[0].expected_output_len == 5


def test_sharegpt_output_len_override():
    conversations = datasets.sample_sharegpt_conversations(5, seed=3)
    requests = datasets.sharegpt_requests(conversations, 5, word_count, output_len=2)
    assert [r.expected_output_len for r in requests] == [2] * len(requests)


# Metrics of the serve report, on timings whose results are worked out by hand.

def finished(prompt_len, output_tokens, ttft, itl, success=True):
    latency = ttft + sum(itl)
    return RequestFuncOutput(success=success, prompt_len=prompt_len,
                             output_tokens=output_tokens, ttft=ttft, itl=itl, latency=latency)


def test_metrics_counts():
    outputs = [finished(10, 3, 0.1, [0.02, 0.04]), finished(20, 1, 0.3, []),
               finished(99, 0, 0.0, [], success=False)]
    metrics = serve.calculate_metrics(outputs, duration=2.0)
    assert metrics.completed == 2
    assert metrics.failed == 1
    assert metrics.total_input == 30
    assert metrics.total_output == 4
    assert metrics.request_throughput == pytest.approx(1.0)
    assert metrics.output_throughput == pytest.approx(2.0)
    assert metrics.total_token_throughput == pytest.approx(17.0)


def test_metrics_latencies():
    outputs = [finished(10, 3, 0.1, [0.02, 0.04]), finished(20, 1, 0.3, [])]
    metrics = serve.calculate_metrics(outputs, duration=2.0)
    assert metrics.samples_ms["ttft"] == pytest.approx([100.0, 300.0])
    # TPOT: (latency - ttft) / (tokens - 1); single-token requests have none.
    assert metrics.samples_ms["tpot"] == pytest.approx([30.0])
    assert metrics.samples_ms["itl"] == pytest.approx([20.0, 40.0])
    assert metrics.samples_ms["e2el"] == pytest.approx([160.0, 300.0])


def report_args(**overrides):
    defaults = {"max_concurrency": None, "request_rate": float("inf")}
    return type("Args", (), {**defaults, **overrides})()


def test_report_layout():
    metrics = serve.calculate_metrics([finished(10, 3, 0.1, [0.02, 0.04])], duration=2.0)
    text, fields = serve.format_report(metrics, 2.0, report_args(), ["ttft", "itl"], [50, 99])
    lines = text.splitlines()
    assert lines[0] == "============ Serving Benchmark Result ============"
    assert lines[-1] == "=" * 50
    assert "Successful requests:                     1         " in lines
    assert "Mean TTFT (ms):                          100.00    " in lines
    assert "P99 ITL (ms):                            39.80     " in lines
    assert not any("TPOT" in line for line in lines)
    assert fields["p50_itl_ms"] == pytest.approx(30.0)
    assert fields["mean_tpot_ms"] == pytest.approx(30.0)


def test_report_concurrency_line():
    metrics = serve.calculate_metrics([finished(10, 3, 0.1, [0.02, 0.04])], duration=2.0)
    text, _ = serve.format_report(metrics, 2.0, report_args(max_concurrency=4, request_rate=2.0),
                                  ["ttft"], [99])
    assert "Maximum request concurrency:             4         " in text.splitlines()
    assert "Request rate configured (RPS):           2.00      " in text.splitlines()


# The streaming client against a scripted server that sends SSE events in HTTP chunks with
# known pauses.

def sse(payload) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {text}\n\n".encode()


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def scripted_server(events, pause_s):
    """Start a server that replies to one request with `events`, `pause_s` apart."""
    received = {}

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")][0])
        received["body"] = json.loads(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        for event in events:
            await asyncio.sleep(pause_s)
            writer.write(chunked(event))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], received


def usage(prompt, completion):
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def run_scripted(backend, events, pause_s=0.05, prompt="hi"):
    async def main():
        server, port, received = await scripted_server(events, pause_s)
        async with server:
            request = RequestFuncInput(prompt=prompt, prompt_len=2, output_len=3, model="m",
                                       api_url=f"http://127.0.0.1:{port}/v1/x")
            return await request_openai(backend, request), received
    return asyncio.run(main())


CHAT_EVENTS = [
    sse({"choices": [{"delta": {"role": "assistant", "content": ""}}], "usage": usage(5, 0)}),
    sse({"choices": [{"delta": {"content": "A"}}], "usage": usage(5, 1)}),
    sse({"choices": [{"delta": {"content": "B"}}], "usage": usage(5, 2)})
    + sse({"choices": [{"delta": {"content": "C"}}], "usage": usage(5, 3)}),
    sse({"choices": [], "usage": usage(5, 3)}),
    sse("[DONE]"),
]


def test_client_chat_counts():
    output, received = run_scripted("openai-chat", CHAT_EVENTS)
    assert output.success, output.error
    assert output.generated_text == "ABC"
    assert output.output_tokens == 3
    assert output.prompt_len == 5
    assert received["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert received["body"]["max_completion_tokens"] == 3


def test_client_skips_role_chunk():
    output, _ = run_scripted("openai-chat", CHAT_EVENTS, pause_s=0.1)
    # The role chunk arrives after one pause, the first token after two.
    assert output.ttft >= 0.2
    # B and C arrive in one HTTP chunk, a pause after A: a gap of one pause, then none.
    assert len(output.itl) == 2
    assert output.itl[0] >= 0.1
    assert output.itl[1] < 0.05
    assert output.latency == pytest.approx(output.ttft + sum(output.itl))


def test_client_completions_final_usage():
    # Usage only in the last chunk, as servers without continuous usage stats send it.
    events = [sse({"choices": [{"text": "x"}]}), sse({"choices": [{"text": "y"}]}),
              sse({"choices": [], "usage": usage(7, 2)}), sse("[DONE]")]
    output, received = run_scripted("openai", events, prompt=[101, 102])
    assert output.success, output.error
    assert output.output_tokens == 2
    assert len(output.itl) == 1
    assert output.prompt_len == 7
    assert received["body"]["prompt"] == [101, 102]
    assert received["body"]["max_tokens"] == 3


def test_client_stream_error():
    events = [sse({"error": {"message": "boom", "code": 500}}), sse("[DONE]")]
    output, _ = run_scripted("openai", events)
    assert not output.success
    assert "boom" in output.error


def test_client_http_error():
    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\noops!")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            request = RequestFuncInput(prompt="hi", prompt_len=1, output_len=1, model="m",
                                       api_url=f"http://127.0.0.1:{port}/v1/completions")
            return await request_openai("openai", request)

    output = asyncio.run(main())
    assert not output.success
    assert output.error == "HTTP 400: oops!"


# Real runs on the default model.

def test_bench_help_lists_commands():
    result = run_bench("--help")
    assert result.returncode == 0
    for name in ("latency", "throughput", "serve"):
        assert name in result.stdout


def test_console_script_routes_bench():
    result = subprocess.run([vllm_command(), "bench", "serve", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--request-rate" in result.stdout


def test_bad_flag_exits_2():
    result = run_bench("latency", "--no-such-flag")
    assert result.returncode == 2


def test_invalid_value_exits_1():
    result = run_bench("throughput", "--random-range-ratio", "1.5")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: --random-range-ratio must be in [0, 1)")


def test_latency_json(model, tmp_path):
    path = tmp_path / "latency.json"
    result = run_bench("latency", "--model", model, *SMALL_ENGINE, "--input-len", "8",
                       "--output-len", "4", "--batch-size", "2", "--num-iters-warmup", "1",
                       "--num-iters", "2", "--output-json", str(path))
    assert result.returncode == 0, result.stderr
    data = json.loads(path.read_text())
    assert len(data["latencies"]) == 2
    assert data["avg_latency"] == pytest.approx(sum(data["latencies"]) / 2)
    assert sorted(data["percentiles"]) == sorted(["10", "25", "50", "75", "90", "99"])
    assert "Avg latency:" in result.stdout


def test_throughput_json(model, tmp_path):
    path = tmp_path / "throughput.json"
    result = run_bench("throughput", "--model", model, *SMALL_ENGINE, "--dataset-name", "random",
                       "--input-len", "8", "--output-len", "3", "--num-prompts", "3",
                       "--output-json", str(path))
    assert result.returncode == 0, result.stderr
    data = json.loads(path.read_text())
    assert data["num_requests"] == 3
    assert data["total_prompt_tokens"] == 3 * 8
    assert data["total_output_tokens"] == 3 * 3
    assert data["total_num_tokens"] == 3 * 11
    assert data["tokens_per_second"] == pytest.approx(33 / data["elapsed_time"])
    assert "Throughput: " in result.stdout
    assert " requests/s, " in result.stdout


def test_throughput_sharegpt_sample(model, tmp_path):
    sample = tmp_path / "sharegpt.json"
    result = run_bench("throughput", "--model", model, "--max-model-len", "2100",
                       "--kv-cache-memory-bytes", str(128 << 20), "--dataset-name", "sharegpt",
                       "--num-prompts", "2", "--output-len", "2", "--save-dataset", str(sample))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(sample.read_text())) == 4
    assert "Total num output tokens:  4" in result.stdout


# `vllm bench serve` against a real server.

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(model, tmp_path_factory):
    # VLLM_SERVER_BINARY names a build's C++ program, else the installed `vllm` command runs.
    binary = os.environ.get("VLLM_SERVER_BINARY") or vllm_command()
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [binary, "serve", model, "--host", "127.0.0.1", "--port", str(port),
             "--served-model-name", "smollm2", *SMALL_ENGINE],
            stdout=log, stderr=subprocess.STDOUT, env=RUN_ENV)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with status {process.returncode}: "
                            f"{log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not become healthy within 180 s")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_serve_random_counts(server_url, tmp_path):
    result = run_bench("serve", "--base-url", server_url, "--dataset-name", "random",
                       "--random-input-len", "12", "--random-output-len", "4", "--num-prompts",
                       "4", "--ignore-eos", "--max-concurrency", "2", "--disable-tqdm",
                       "--metric-percentiles", "50,99", "--percentile-metrics",
                       "ttft,tpot,itl,e2el", "--save-result", "--result-dir", str(tmp_path),
                       "--result-filename", "serve.json")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "serve.json").read_text())
    assert data["model_id"] == "smollm2"
    assert data["completed"] == 4
    assert data["failed"] == 0
    assert data["output_lens"] == [4, 4, 4, 4]
    assert data["input_lens"] == [12, 12, 12, 12]
    assert data["total_input_tokens"] == 48
    assert data["total_output_tokens"] == 16
    assert data["request_throughput"] == pytest.approx(4 / data["duration"])
    assert data["total_token_throughput"] == pytest.approx(64 / data["duration"])
    assert all(1 <= len(itl) <= 3 for itl in data["itls"])
    assert all(0 < ttft < data["duration"] for ttft in data["ttfts"])
    assert data["p50_ttft_ms"] <= data["p99_ttft_ms"]
    assert data["errors"] == ["", "", "", ""]
    assert "Median TPOT (ms):" in result.stdout
    assert "P50 E2EL (ms):" in result.stdout


def test_serve_chat_sharegpt(server_url, tmp_path):
    result = run_bench("serve", "--base-url", server_url, "--backend", "openai-chat",
                       "--dataset-name", "sharegpt", "--sharegpt-output-len", "3",
                       "--num-prompts", "2", "--ignore-eos", "--request-rate", "20",
                       "--disable-tqdm", "--save-result", "--result-dir", str(tmp_path),
                       "--result-filename", "chat.json")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "chat.json").read_text())
    assert data["completed"] == 2
    assert data["total_output_tokens"] == 6
    assert data["total_input_tokens"] == sum(data["input_lens"])
    assert "Request rate configured (RPS):           20.00" in result.stdout


def test_serve_unreachable():
    result = run_bench("serve", "--base-url", f"http://127.0.0.1:{free_port()}",
                       "--num-prompts", "1")
    assert result.returncode == 1
    assert "cannot reach the server" in result.stderr
