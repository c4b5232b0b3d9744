#!/usr/bin/env python3
"""Drives `vllm serve` with many concurrent streaming clients and checks that it recovers.

Starts the server (default model, 127.0.0.1, a free port), then runs two phases of
--duration seconds each with --clients concurrent clients. Each client loops: send a
streamed /v1/completions request of random prompt and output length, read the stream to
its end, repeat. In the second phase a third of the clients close their connection in the
middle of each stream. After each phase the clients finish their current request and the
script checks that vllm:kv_cache_usage_perc, vllm:num_requests_running and
vllm:num_requests_waiting are back to 0. Prints a table and writes JSON.

Standard library only (asyncio with raw HTTP/1.1), so it runs without the openai package.

    python benchmarks/serve_stress.py --binary build/vllm --output stress.json
"""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

DEFAULT_MODEL = os.path.expanduser("~/.cache/vllm/models/SmolLM2-135M-Instruct.Q4_1.gguf")
WORDS = ("the quick brown fox jumps over a lazy dog while seven wise owls watch from an old "
         "oak tree near the quiet river").split()
GAUGES = ("vllm:kv_cache_usage_perc", "vllm:num_requests_running", "vllm:num_requests_waiting")


@dataclass
class PhaseStats:
    name: str
    requests_done: int = 0        # streams that ended with [DONE] and a finish reason
    requests_failed: int = 0      # HTTP errors, broken streams, missing finish reasons
    requests_disconnected: int = 0  # streams the client closed on purpose
    requests_cut: int = 0         # streams still running at the end of the drain time, closed
    ttft_s: list = field(default_factory=list)   # send to first token, per request
    itl_s: list = field(default_factory=list)    # gap between token events
    failures: list = field(default_factory=list)  # the first few failure messages
    tokens: int = 0
    wall_s: float = 0.0
    gauges_after: dict = field(default_factory=dict)
    gauges_zero_after_s: float = -1.0  # time until all gauges read 0 (-1: never)

    def fail(self, message):
        self.requests_failed += 1
        if len(self.failures) < 10:
            self.failures.append(message)


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(port, path, timeout=30):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.status, response.read().decode()


def read_gauges(port):
    _, text = http_get(port, "/metrics")
    values = {}
    for name in GAUGES:
        match = re.search(rf"^{re.escape(name)}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
        values[name] = float(match.group(1)) if match else float("nan")
    return values


async def read_chunked_events(reader):
    """Yields SSE data strings from a chunked HTTP body as they arrive."""
    buffer = b""
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise ConnectionError("connection closed inside the chunked body")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        buffer += await reader.readexactly(size)
        await reader.readexactly(2)
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            for line in event.decode().split("\n"):
                if line.startswith("data: "):
                    yield line[len("data: "):]


async def one_request(port, stats, rng, disconnect):
    prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 120)))
    max_tokens = rng.randint(8, 48)
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True,
                       "stream": True, "temperature": 0.8, "seed": rng.randint(0, 1 << 30)})
    request = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               f"Connection: close\r\n\r\n{body}").encode()
    # Close after this many token events when disconnecting (before the end).
    disconnect_after = rng.randint(1, max(1, max_tokens // 2)) if disconnect else None
    sent = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        stats.fail(f"connect: {error}")
        return
    try:
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        status = int(status_line.split()[1]) if status_line else 0
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 200:
            stats.fail(f"HTTP {status}")
            return
        last = None
        num_token_events = 0
        finish_reason = None
        done = False
        async for data in read_chunked_events(reader):
            if data == "[DONE]":
                done = True
                continue
            choice = json.loads(data)["choices"][0]
            if choice.get("finish_reason") is not None:
                finish_reason = choice["finish_reason"]
            if choice.get("text"):
                now = time.monotonic()
                if last is None:
                    stats.ttft_s.append(now - sent)
                else:
                    stats.itl_s.append(now - last)
                last = now
                num_token_events += 1
                if disconnect_after is not None and num_token_events >= disconnect_after:
                    stats.requests_disconnected += 1
                    return
        if not done or finish_reason not in ("length", "stop"):
            stats.fail(f"stream ended with done={done}, finish_reason={finish_reason}")
            return
        stats.requests_done += 1
        stats.tokens += max_tokens
    except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as error:
        stats.fail(f"{type(error).__name__}: {error}")
    finally:
        writer.close()


async def client_loop(index, port, stats, stop_at, disconnecting, seed):
    rng = random.Random(seed * 100003 + index)
    while time.monotonic() < stop_at:
        await one_request(port, stats, rng, disconnect=disconnecting)


async def run_phase(name, port, num_clients, duration_s, drain_s, disconnect_fraction, seed):
    stats = PhaseStats(name)
    start = time.monotonic()
    stop_at = start + duration_s
    num_disconnecting = int(num_clients * disconnect_fraction)
    tasks = [asyncio.create_task(client_loop(i, port, stats, stop_at,
                                             i < num_disconnecting, seed))
             for i in range(num_clients)]
    # Clients finish their current request after the phase, for at most drain_s seconds;
    # then the rest close their connections, which aborts their requests.
    _, pending = await asyncio.wait(tasks, timeout=duration_s + drain_s)
    stats.requests_cut = len(pending)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    stats.wall_s = time.monotonic() - start
    # Aborted requests free their blocks within a step; allow a few seconds of slack.
    deadline = time.monotonic() + 30
    while True:
        stats.gauges_after = await asyncio.to_thread(read_gauges, port)
        if all(value == 0 for value in stats.gauges_after.values()):
            stats.gauges_zero_after_s = time.monotonic() - (start + stats.wall_s)
            break
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return stats


def start_server(args, port, log_file):
    command = [args.binary, "serve", args.model, "--host", "127.0.0.1", "--port", str(port),
               "--max-connections", str(args.clients + 64), *args.server_args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_file)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log_file.seek(0)
            sys.exit(f"server exited with {process.returncode}: {log_file.read()[-4000:]}")
        try:
            if http_get(port, "/health", timeout=2)[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    sys.exit("server did not become healthy within 300 s")


def summary(stats):
    return {
        "phase": stats.name,
        "wall_s": round(stats.wall_s, 1),
        "requests_done": stats.requests_done,
        "requests_failed": stats.requests_failed,
        "requests_disconnected": stats.requests_disconnected,
        "requests_cut": stats.requests_cut,
        "output_tokens_done": stats.tokens,
        "ttft_p50_s": percentile(stats.ttft_s, 50),
        "ttft_p99_s": percentile(stats.ttft_s, 99),
        "itl_p50_s": percentile(stats.itl_s, 50),
        "itl_p99_s": percentile(stats.itl_s, 99),
        "itl_mean_s": statistics.fmean(stats.itl_s) if stats.itl_s else float("nan"),
        "gauges_after": stats.gauges_after,
        "gauges_zero_after_s": round(stats.gauges_zero_after_s, 2),
        "failures": stats.failures,
    }


def print_table(rows, flush=False):
    columns = [("phase", "{}"), ("wall_s", "{:.1f}"), ("requests_done", "{}"),
               ("requests_failed", "{}"), ("requests_disconnected", "{}"), ("requests_cut", "{}"),
               ("ttft_p50_s", "{:.3f}"), ("ttft_p99_s", "{:.3f}"), ("itl_p50_s", "{:.3f}"),
               ("itl_p99_s", "{:.3f}"), ("gauges_zero_after_s", "{:.2f}")]
    cells = [[name for name, _ in columns]]
    for row in rows:
        cells.append([fmt.format(row[name]) for name, fmt in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))
    for row in rows:
        print(f"{row['phase']}: gauges after = {row['gauges_after']}")
        for failure in row["failures"]:
            print(f"  failure: {failure}")
    if flush:
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.environ.get("VLLM_SERVER_BINARY")
                        or shutil.which("vllm") or "vllm",
                        help="the vllm program (default: $VLLM_SERVER_BINARY, else `vllm`)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds after each phase that clients may finish their request")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="serve_stress.json")
    parser.add_argument("--server-args", nargs=argparse.REMAINDER, default=[],
                        help="further `vllm serve` flags (must come last)")
    args = parser.parse_args()

    port = free_port()
    log_file = tempfile.TemporaryFile(mode="w+")
    process = start_server(args, port, log_file)
    rows = []
    try:
        for name, fraction in (("all_complete", 0.0), ("third_disconnect", 1 / 3)):
            stats = asyncio.run(run_phase(name, port, args.clients, args.duration, args.drain,
                                          fraction, args.seed))
            rows.append(summary(stats))
            print_table(rows[-1:], flush=True)
    finally:
        process.terminate()
        try:
            exit_status = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_status = None
    result = {"clients": args.clients, "duration_s": args.duration, "model": args.model,
              "cpu_count": os.cpu_count(), "load_average_end": os.getloadavg(),
              "server_exit_status": exit_status, "phases": rows}
    with open(args.output, "w") as out:
        json.dump(result, out, indent=2)
    print_table(rows)
    print(f"server exit status after SIGTERM: {exit_status}; JSON written to {args.output}")
    ok = all(row["requests_failed"] == 0 and row["gauges_zero_after_s"] >= 0 for row in rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
