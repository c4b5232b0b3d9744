#!/usr/bin/env python3
"""Soak test of `vllm serve`: runs the server on 127.0.0.1 for a fixed time against a mix of
valid, invalid, aborted and slow clients, then checks that nothing was lost.

Before the timed run it writes every KV cache block twice (see fill_kv_cache), so that the
fixed-size cache, whose pages the kernel maps on first use, does not count as growth.

Checks, in order:
  1. the server process is still alive;
  2. resident memory grew by less than --max-rss-growth-mib-per-min from the end of the
     warm-up to the end (the least-squares slope of the samples is printed beside it);
  3. every valid request (streamed or not, sent fast or byte by byte, read fast or slowly)
     got a complete answer: status 200, a finish_reason, and for streams the final
     "data: [DONE]";
  4. every invalid request got its error status (400 bad JSON or field, 404 unknown model);
  5. vllm:kv_cache_usage_perc, vllm:num_requests_running and vllm:num_requests_waiting are
     back to 0 once the clients stop;
  6. the metrics' counts add up to what the clients sent: vllm:request_success_total grew by
     the number of requests that reached the engine, vllm:prompt_tokens_total by their
     prompt tokens, and vllm:generation_tokens_total by at least the tokens the clients
     received.

Prints a table of the figures and writes them as JSON (--output-json). Uses only the
standard library. Exit status 0 when every check passes, 1 otherwise.

    python benchmarks/soak.py --vllm build/release/vllm --duration 600
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path.home() / ".cache/vllm/models/SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_NAME = "soak-model"

PROMPTS = [
    "The capital of France is",
    "Write a haiku about the sea.",
    "List three prime numbers:",
    "Once upon a time, in a small village,",
    "The quick brown fox",
    "Explain what a hash table is in one sentence.",
]

# Client kinds and their relative weights in the mix.
KINDS = {
    "completion": 4,          # valid, not streamed
    "completion_stream": 3,   # valid, streamed
    "chat": 3,                # valid chat, not streamed
    "chat_stream": 2,         # valid chat, streamed
    "slow_send": 1,           # valid, body sent byte by byte
    "slow_read": 1,           # valid, streamed, read a few bytes at a time with pauses
    "bad_json": 2,            # invalid: malformed JSON -> 400
    "bad_field": 2,           # invalid: a field of the wrong type or range -> 400
    "unknown_model": 1,       # invalid: model name not served -> 404
    "aborted": 2,             # client disconnects after the first streamed chunk
    "idle": 1,                # connects, sends nothing; the server must close it
}
VALID_KINDS = {"completion", "completion_stream", "chat", "chat_stream", "slow_send",
               "slow_read"}
INVALID_STATUS = {"bad_json": 400, "bad_field": 400, "unknown_model": 404}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vllm", default=None,
                        help="path of the vllm binary (default: build/release/vllm, then PATH)")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="model path")
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of load, warm-up included (default 600)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds at the start excluded from the RSS check, while the "
                             "KV cache pages and allocator arenas are first touched "
                             "(default: 20%% of --duration, at least 30)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--kv-cache-memory-bytes", type=int, default=64 << 20,
                        help="fixed KV cache budget of the server in bytes (default 64 MiB)")
    parser.add_argument("--max-model-len", type=int, default=512)
    parser.add_argument("--threads", type=int, default=0, help="server model threads")
    parser.add_argument("--max-rss-growth-mib-per-min", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the client mix")
    parser.add_argument("--output-json", default=str(ROOT / "benchmarks/results/soak.json"))
    parser.add_argument("--server-log", default=None,
                        help="file for the server's stderr (default: discarded)")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Server:
    def __init__(self, args: argparse.Namespace):
        binary = args.vllm or (ROOT / "build/release/vllm")
        if not Path(binary).exists():
            binary = shutil.which("vllm")
        if binary is None:
            sys.exit("vllm binary not found; pass --vllm PATH")
        self.port = free_port()
        command = [str(binary), "serve", args.model, "--host", "127.0.0.1",
                   "--port", str(self.port), "--served-model-name", SERVED_NAME,
                   "--kv-cache-memory-bytes", str(args.kv_cache_memory_bytes),
                   "--max-model-len", str(args.max_model_len),
                   "--threads", str(args.threads)]
        # The log is kept (in a temporary file by default) because the KV cache size in
        # blocks is read from it.
        self.log_path = args.server_log or tempfile.mkstemp(prefix="soak-server-", suffix=".log")[1]
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        self.command = command

    def kv_cache_tokens(self) -> int:
        """Returns the KV cache capacity in tokens from the server's start-up log line
        "KV cache: ... MiB (...), N blocks of B tokens"."""
        match = re.search(r"KV cache: .* (\d+) blocks of (\d+) tokens",
                          Path(self.log_path).read_text(errors="replace"))
        if match is None:
            sys.exit(f"the KV cache size line is missing from the server log {self.log_path}")
        return int(match.group(1)) * int(match.group(2))

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the server exited with status {self.process.returncode} at start")
            try:
                status, _ = request(self.port, "GET", "/health", None, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        sys.exit(f"the server did not answer /health within {timeout_s} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def request(port: int, method: str, path: str, body, timeout: float = 300.0):
    """Sends one request on a fresh connection; returns (status, body bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else (body if isinstance(body, bytes) else
                                          json.dumps(body).encode())
        headers = {"content-type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def metrics(port: int) -> dict[str, float]:
    """Returns the /metrics samples by name plus labels, e.g.
    'vllm:request_success_total{finished_reason="stop"}'."""
    status, body = request(port, "GET", "/metrics", None, timeout=30)
    if status != 200:
        raise RuntimeError(f"/metrics returned {status}")
    samples = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        match = re.match(r"([^{]+)(\{.*\})?", name_labels)
        name = match.group(1)
        labels = match.group(2) or ""
        reason = re.search(r'finished_reason="([^"]+)"', labels)
        key = f'{name}{{finished_reason="{reason.group(1)}"}}' if reason else name
        samples[key] = float(value)
    return samples


def success_total(samples: dict[str, float]) -> float:
    return sum(value for key, value in samples.items()
               if key.startswith("vllm:request_success_total"))


# ---- one client of each kind ------------------------------------------------------------

class Result:
    def __init__(self, kind: str):
        self.kind = kind
        self.status = None          # HTTP status, or None without one
        self.ok = False             # the answer is what this kind expects
        self.reached_engine = False
        self.prompt_tokens = 0      # known for requests that reached the engine
        self.completion_tokens = 0  # tokens received by the client
        self.error = ""


def completion_body(rng: random.Random, stream: bool, chat: bool) -> dict:
    prompt = rng.choice(PROMPTS)
    body = {"model": SERVED_NAME, "max_tokens": rng.randint(1, 16), "temperature": 0}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def raw_http(body: bytes, path: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


def read_http_response(sock: socket.socket, pause_s: float = 0.0, chunk: int = 65536) -> bytes:
    data = b""
    while True:
        part = sock.recv(chunk)
        if not part:
            return data
        data += part
        if pause_s:
            time.sleep(pause_s)


def decode_chunked(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out += rest[:size]
        payload = rest[size + 2:]
    raise ValueError("chunked body ended without the last chunk")


def check_answer(result: Result, status: int, headers: bytes, payload: bytes,
                 stream: bool, chat: bool) -> None:
    """Fills `result` from a complete HTTP response of a valid request."""
    result.status = status
    result.reached_engine = True
    if status != 200:
        result.error = f"status {status}: {payload[:200]!r}"
        return
    if stream:
        if b"transfer-encoding: chunked" in headers.lower():
            payload = decode_chunked(payload)
        events = [line[6:] for line in payload.decode().split("\n") if line.startswith("data: ")]
        if not events or events[-1] != "[DONE]":
            result.error = "stream did not end with data: [DONE]"
            return
        finish = None
        for event in events[:-1]:
            chunk = json.loads(event)
            for choice in chunk.get("choices", []):
                finish = choice.get("finish_reason") or finish
            if chunk.get("usage"):
                result.prompt_tokens = chunk["usage"]["prompt_tokens"]
                result.completion_tokens = chunk["usage"]["completion_tokens"]
        if finish not in ("stop", "length"):
            result.error = f"stream finished with {finish!r}"
            return
    else:
        answer = json.loads(payload)
        choice = answer["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        if not isinstance(text, str) or choice["finish_reason"] not in ("stop", "length"):
            result.error = f"incomplete answer: {answer}"
            return
        result.prompt_tokens = answer["usage"]["prompt_tokens"]
        result.completion_tokens = answer["usage"]["completion_tokens"]
    result.ok = True


def split_response(data: bytes):
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
    return status, head, payload


def run_valid(port: int, kind: str, rng: random.Random) -> Result:
    result = Result(kind)
    chat = kind.startswith("chat")
    stream = kind in ("completion_stream", "chat_stream", "slow_read")
    body = json.dumps(completion_body(rng, stream, chat)).encode()
    path = "/v1/chat/completions" if chat else "/v1/completions"
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        data = raw_http(body, path)
        if kind == "slow_send":
            # Headers at once, then the body one byte every 10 ms: about 1 s per request,
            # well inside the server's 60 s request read timeout.
            head_length = len(data) - len(body)
            sock.sendall(data[:head_length])
            for i in range(len(body)):
                sock.sendall(body[i:i + 1])
                time.sleep(0.01)
        else:
            sock.sendall(data)
        if kind == "slow_read":
            response = read_http_response(sock, pause_s=0.02, chunk=16)
        else:
            response = read_http_response(sock)
    status, head, payload = split_response(response)
    if status is None:
        result.error = "no HTTP response"
        return result
    check_answer(result, status, head, payload, stream, chat)
    return result


def run_invalid(port: int, kind: str, rng: random.Random) -> Result:
    result = Result(kind)
    if kind == "bad_json":
        body = rng.choice([b'{"model": "x", "prompt": ', b"not json", b'{"prompt": "a",}',
                           b"[" * 2000 + b"]" * 2000])
    elif kind == "bad_field":
        body = rng.choice([
            {"model": SERVED_NAME, "prompt": "hi", "max_tokens": -1},
            {"model": SERVED_NAME, "prompt": "hi", "temperature": "hot"},
            {"model": SERVED_NAME, "prompt": 12},
            {"model": SERVED_NAME, "messages": "not a list"},
            {"model": SERVED_NAME, "prompt": "hi", "top_p": 7},
            {"model": SERVED_NAME, "prompt": "hi", "n": 2000000000, "temperature": 1},
        ])
    else:
        body = {"model": "no-such-model", "prompt": "hi", "max_tokens": 2}
    path = "/v1/chat/completions" if isinstance(body, dict) and "messages" in body \
        else "/v1/completions"
    status, payload = request(port, "POST", path, body)
    result.status = status
    result.ok = status == INVALID_STATUS[kind]
    if result.ok:
        error = json.loads(payload).get("error", {})
        result.ok = isinstance(error.get("message"), str) and error.get("code") == status
    if not result.ok:
        result.error = f"status {status}: {payload[:200]!r}"
    return result


def run_aborted(port: int, rng: random.Random, prompt_tokens: dict) -> Result:
    result = Result("aborted")
    prompt = rng.choice(PROMPTS)
    body = json.dumps({"model": SERVED_NAME, "prompt": prompt, "max_tokens": 64,
                       "temperature": 0, "stream": True, "ignore_eos": True}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        sock.sendall(raw_http(body, "/v1/completions"))
        first = b""
        while b"data: " not in first:
            part = sock.recv(4096)
            if not part:
                break
            first += part
        result.status, _, _ = split_response(first)
        result.completion_tokens = first.count(b'"text"')   # tokens seen before closing
        # Closes with unread data pending, as a client that crashes would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    result.ok = result.status == 200
    result.reached_engine = True
    result.prompt_tokens = prompt_tokens[("completion", prompt)]
    return result


def run_idle(port: int) -> Result:
    result = Result("idle")
    result.status = "closed"
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        closed = sock.recv(1) == b""
    elapsed = time.monotonic() - start
    # The server's keep-alive timeout is 5 s by default.
    result.ok = closed and elapsed < 15
    if not result.ok:
        result.error = f"idle connection not closed by the server ({elapsed:.1f} s)"
    return result


# ---- driver -----------------------------------------------------------------------------

WORDS = ("apple river stone cloud window garden letter silver market orange candle forest "
         "engine yellow bridge winter planet castle mirror ladder pocket signal").split()


def fill_kv_cache(port: int, capacity_tokens: int) -> int:
    """Sends two waves of distinct long prompts, each wave together larger than the KV cache,
    so that every block has been written once before the RSS baseline is taken. The cache is
    allocated at start but its pages are touched lazily, and without this step the first
    use of each block would look like growth. Returns the number of prompt tokens sent."""
    rng = random.Random(12345)
    prompt_tokens = 0
    for wave in range(2):
        prompts = []
        wave_tokens = 0
        while wave_tokens < capacity_tokens:
            words = " ".join(rng.choice(WORDS) for _ in range(120))
            prompts.append(f"Warm-up {wave}-{len(prompts)}: {words}")
            wave_tokens += 120
        counts = []

        def send(prompt: str) -> None:
            status, payload = request(port, "POST", "/v1/completions",
                                      {"model": SERVED_NAME, "prompt": prompt, "max_tokens": 1})
            if status != 200:
                sys.exit(f"KV cache warm-up request failed with {status}: {payload[:200]!r}")
            counts.append(json.loads(payload)["usage"]["prompt_tokens"])

        threads = [threading.Thread(target=send, args=(prompt,)) for prompt in prompts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        prompt_tokens += sum(counts)
    return prompt_tokens


def learn_prompt_tokens(port: int) -> dict:
    """Returns the prompt token count of each prompt, as the server counts it."""
    counts = {}
    for prompt in PROMPTS:
        status, payload = request(port, "POST", "/v1/completions",
                                  {"model": SERVED_NAME, "prompt": prompt, "max_tokens": 1})
        if status != 200:
            sys.exit(f"warm-up request failed with {status}: {payload[:200]!r}")
        counts[("completion", prompt)] = json.loads(payload)["usage"]["prompt_tokens"]
    return counts


def main() -> int:
    args = parse_args()
    warmup_s = args.warmup if args.warmup is not None else max(30.0, 0.2 * args.duration)
    server = Server(args)
    results: list[Result] = []
    rss_samples: list[tuple[float, int]] = []
    try:
        server.wait_ready()
        port = server.port
        capacity_tokens = server.kv_cache_tokens()
        warmup_prompt_tokens = fill_kv_cache(port, capacity_tokens)
        print(f"KV cache of {capacity_tokens} tokens filled twice "
              f"({warmup_prompt_tokens} prompt tokens)")
        prompt_tokens = learn_prompt_tokens(port)
        before = metrics(port)
        rss_start = rss_bytes(server.process.pid)
        start = time.monotonic()
        stop_at = start + args.duration
        lock = threading.Lock()
        kinds, weights = zip(*KINDS.items())

        def worker(index: int) -> None:
            rng = random.Random(args.seed * 1000 + index)
            while time.monotonic() < stop_at:
                kind = rng.choices(kinds, weights)[0]
                try:
                    if kind in VALID_KINDS:
                        result = run_valid(port, kind, rng)
                    elif kind in INVALID_STATUS:
                        result = run_invalid(port, kind, rng)
                    elif kind == "aborted":
                        result = run_aborted(port, rng, prompt_tokens)
                    else:
                        result = run_idle(port)
                except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
                    result = Result(kind)
                    result.reached_engine = kind in VALID_KINDS
                    result.error = f"{type(error).__name__}: {error}"
                with lock:
                    results.append(result)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True)
                   for i in range(args.concurrency)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            if server.process.poll() is None:
                rss_samples.append((time.monotonic() - start, rss_bytes(server.process.pid)))
            time.sleep(5)
        for thread in threads:
            thread.join()
        elapsed_s = time.monotonic() - start

        # The engine may still be finishing aborted requests; give it a moment to drain.
        alive = server.process.poll() is None
        after = {}
        drain_deadline = time.monotonic() + 60
        while alive and time.monotonic() < drain_deadline:
            after = metrics(port)
            if (after.get("vllm:num_requests_running", 1) == 0 and
                    after.get("vllm:num_requests_waiting", 1) == 0 and
                    after.get("vllm:kv_cache_usage_perc", 1) == 0):
                break
            time.sleep(1)
        rss_end = rss_bytes(server.process.pid) if alive else 0
    finally:
        server.stop()

    report = summarize(args, " ".join(server.command), warmup_s, elapsed_s, results, rss_samples, rss_start, rss_end,
                       alive, before, after)
    print_report(report)
    Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output_json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output_json}")
    return 0 if all(check["passed"] for check in report["checks"]) else 1


def slope_mib_per_min(samples: list[tuple[float, int]]) -> float:
    if len(samples) < 2:
        return 0.0
    xs = [t / 60 for t, _ in samples]
    ys = [rss / (1 << 20) for _, rss in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var_x = sum((x - mean_x) ** 2 for x in xs)
    if var_x == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var_x


def summarize(args, server_command, warmup_s, elapsed_s, results, rss_samples, rss_start, rss_end, alive,
              before, after) -> dict:
    by_kind = collections.Counter(result.kind for result in results)
    ok_by_kind = collections.Counter(result.kind for result in results if result.ok)
    by_status = collections.Counter(str(result.status) for result in results)
    failures = [f"{result.kind}: {result.error}" for result in results if not result.ok]

    after_warmup = [(t, rss) for t, rss in rss_samples if t >= warmup_s]
    rss_warm = after_warmup[0][1] if after_warmup else rss_start
    minutes_after_warmup = max(1e-9, (elapsed_s - warmup_s) / 60)
    slope = slope_mib_per_min(after_warmup)
    growth = (rss_end - rss_warm) / (1 << 20) / minutes_after_warmup

    engine_results = [result for result in results if result.reached_engine and
                      (result.ok or result.kind == "aborted")]
    sent_engine = len(engine_results)
    sent_prompt_tokens = sum(result.prompt_tokens for result in engine_results)
    received_tokens = sum(result.completion_tokens for result in engine_results)

    def delta(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    success_delta = success_total(after) - success_total(before)
    valid_sent = sum(by_kind[kind] for kind in VALID_KINDS)
    valid_ok = sum(ok_by_kind[kind] for kind in VALID_KINDS)
    invalid_sent = sum(by_kind[kind] for kind in INVALID_STATUS)
    invalid_ok = sum(ok_by_kind[kind] for kind in INVALID_STATUS)
    checks = [
        {"name": "server alive", "passed": alive},
        {"name": f"RSS growth after warm-up < {args.max_rss_growth_mib_per_min} MiB/min",
         "passed": alive and growth < args.max_rss_growth_mib_per_min,
         "value": round(growth, 3)},
        {"name": "every valid request answered completely", "passed": valid_ok == valid_sent,
         "value": f"{valid_ok}/{valid_sent}"},
        {"name": "every invalid request got its error status",
         "passed": invalid_ok == invalid_sent, "value": f"{invalid_ok}/{invalid_sent}"},
        {"name": "aborted and idle clients handled",
         "passed": ok_by_kind["aborted"] == by_kind["aborted"] and
         ok_by_kind["idle"] == by_kind["idle"],
         "value": f"{ok_by_kind['aborted'] + ok_by_kind['idle']}/"
                  f"{by_kind['aborted'] + by_kind['idle']}"},
        {"name": "KV cache usage, running and waiting back to 0",
         "passed": alive and after.get("vllm:kv_cache_usage_perc") == 0 and
         after.get("vllm:num_requests_running") == 0 and
         after.get("vllm:num_requests_waiting") == 0,
         "value": after.get("vllm:kv_cache_usage_perc")},
        {"name": "request_success_total grew by the engine requests sent",
         "passed": success_delta == sent_engine,
         "value": f"{success_delta:.0f} vs {sent_engine}"},
        {"name": "prompt_tokens_total grew by the prompt tokens sent",
         "passed": delta("vllm:prompt_tokens_total") == sent_prompt_tokens,
         "value": f"{delta('vllm:prompt_tokens_total'):.0f} vs {sent_prompt_tokens}"},
        {"name": "generation_tokens_total >= tokens received",
         "passed": delta("vllm:generation_tokens_total") >= received_tokens,
         "value": f"{delta('vllm:generation_tokens_total'):.0f} vs {received_tokens}"},
    ]
    return {
        "server_command": server_command,
        "duration_s": round(elapsed_s, 1),
        "warmup_s": warmup_s,
        "concurrency": args.concurrency,
        "kv_cache_memory_bytes": args.kv_cache_memory_bytes,
        "requests_by_kind": dict(sorted(by_kind.items())),
        "ok_by_kind": dict(sorted(ok_by_kind.items())),
        "responses_by_status": dict(sorted(by_status.items())),
        "rss_mib": {"start": round(rss_start / (1 << 20), 1),
                    "after_warmup": round(rss_warm / (1 << 20), 1),
                    "end": round(rss_end / (1 << 20), 1),
                    "growth_after_warmup_mib_per_min": round(growth, 3),
                    "slope_after_warmup_mib_per_min": round(slope, 3),
                    "num_samples": len(rss_samples)},
        "metrics_delta": {
            "request_success_total": success_delta,
            "request_success_total_abort":
                delta('vllm:request_success_total{finished_reason="abort"}'),
            "prompt_tokens_total": delta("vllm:prompt_tokens_total"),
            "generation_tokens_total": delta("vllm:generation_tokens_total"),
        },
        "checks": checks,
        "failures": failures[:20],
        "num_failures": len(failures),
    }


def print_report(report: dict) -> None:
    print(f"\nSoak: {report['duration_s']} s, {report['concurrency']} clients, "
          f"KV cache {report['kv_cache_memory_bytes'] >> 20} MiB")
    print(f"\n{'kind':<20}{'sent':>8}{'ok':>8}")
    for kind, count in report["requests_by_kind"].items():
        print(f"{kind:<20}{count:>8}{report['ok_by_kind'].get(kind, 0):>8}")
    print(f"\n{'status':<20}{'responses':>8}")
    for status, count in report["responses_by_status"].items():
        print(f"{status:<20}{count:>8}")
    rss = report["rss_mib"]
    print(f"\nRSS MiB: start {rss['start']}, after warm-up {rss['after_warmup']}, end {rss['end']}"
          f"; growth after warm-up {rss['growth_after_warmup_mib_per_min']} MiB/min "
          f"(slope {rss['slope_after_warmup_mib_per_min']} MiB/min)")
    print(f"metrics delta: {report['metrics_delta']}")
    print()
    for check in report["checks"]:
        mark = "PASS" if check["passed"] else "FAIL"
        value = f" ({check['value']})" if "value" in check else ""
        print(f"{mark}  {check['name']}{value}")
    for failure in report["failures"]:
        print(f"  failed: {failure}")


if __name__ == "__main__":
    sys.exit(main())
