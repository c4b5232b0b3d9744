"""Graceful shutdown of `vllm serve` on SIGTERM, and the queue-time histogram, with the real
model: each test starts its own server, because SIGTERM ends it."""

import http.client
import json
import signal
import socket
import time

import pytest

pytest.importorskip("openai")  # test_server, whose Server class is reused, needs it
from test_server import PROMPT, Server  # noqa: E402

# Seconds allowed beyond the grace period for aborting, flushing and exiting.
EXIT_MARGIN_S = 10.0


class EventStream:
    """A streamed completion read over a raw socket, chunk by chunk as the server sends it."""

    def __init__(self, port, max_tokens):
        body = json.dumps({"prompt": PROMPT, "max_tokens": max_tokens, "ignore_eos": True,
                           "stream": True}).encode()
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.socket.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            b"Content-Type: application/json\r\n"
                            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.file = self.socket.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        while self.file.readline() not in (b"\r\n", b""):
            pass
        self.pending = []   # events of the last chunk not returned yet
        self.buffer = b""

    def next_event(self):
        """Returns the data of the next SSE event, or None when the body or socket ended."""
        while not self.pending:
            size_line = self.file.readline()
            if not size_line:
                return None
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return None
            self.buffer += self.file.read(size)
            self.file.read(2)
            while b"\n\n" in self.buffer:
                event, self.buffer = self.buffer.split(b"\n\n", 1)
                for line in event.decode().split("\n"):
                    if line.startswith("data: "):
                        self.pending.append(line[len("data: "):])
        return self.pending.pop(0)

    def close(self):
        self.file.close()
        self.socket.close()


def open_stream(server, max_tokens):
    """Starts a streamed completion and returns it with its first event."""
    stream = EventStream(server.port, max_tokens)
    assert stream.status == 200
    first = stream.next_event()
    assert first is not None
    assert first != "[DONE]"
    return stream, [first]


def read_rest(stream):
    events = []
    while True:
        event = stream.next_event()
        if event is None:
            return events
        events.append(event)


def connection_refused(port) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # A connection still in the backlog when the listening socket closed; try again.
        return False


def wait_refused(port, timeout_s=5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if connection_refused(port):
            return True
        time.sleep(0.05)
    return False


def finish_reasons(events):
    reasons = []
    for event in events:
        if event == "[DONE]":
            continue
        for choice in json.loads(event)["choices"]:
            if choice.get("finish_reason") is not None:
                reasons.append(choice["finish_reason"])
    return reasons


def test_sigterm_drains(model):
    grace_s = 60.0
    server = Server(model, "--shutdown-timeout", str(grace_s))
    try:
        stream, events = open_stream(server, max_tokens=100)
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert wait_refused(server.port)
        events += read_rest(stream)
        stream.close()
        assert events[-1] == "[DONE]"
        assert finish_reasons(events) == ["length"]
        status = server.process.wait(timeout=grace_s + EXIT_MARGIN_S)
        assert status == 0
        assert time.monotonic() - sent < grace_s + EXIT_MARGIN_S
    finally:
        server.stop()


def test_sigterm_aborts(model):
    grace_s = 0.5
    server = Server(model, "--shutdown-timeout", str(grace_s))
    try:
        # Far more tokens than the grace period allows on a CPU.
        stream, events = open_stream(server, max_tokens=480)
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert wait_refused(server.port)
        events += read_rest(stream)
        stream.close()
        assert finish_reasons(events) == ["abort"]
        status = server.process.wait(timeout=grace_s + EXIT_MARGIN_S)
        assert status == 0
        assert time.monotonic() - sent < grace_s + EXIT_MARGIN_S
    finally:
        server.stop()


def test_keep_alive_request_after_sigterm(model):
    server = Server(model, "--shutdown-timeout", "60")
    try:
        idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        idle.request("GET", "/health")
        response = idle.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("connection") == "keep-alive"

        stream, events = open_stream(server, max_tokens=100)
        server.process.send_signal(signal.SIGTERM)
        assert wait_refused(server.port)
        body = json.dumps({"prompt": PROMPT, "max_tokens": 4})
        idle.request("POST", "/v1/completions", body=body,
                     headers={"Content-Type": "application/json"})
        response = idle.getresponse()
        error = json.loads(response.read())
        idle.close()
        assert response.status == 503
        assert response.getheader("connection") == "close"
        assert "shutting down" in error["error"]["message"]

        events += read_rest(stream)
        stream.close()
        assert finish_reasons(events) == ["length"]
        assert server.process.wait(timeout=60 + EXIT_MARGIN_S) == 0
    finally:
        server.stop()


def test_idle_sigterm_exits(model):
    server = Server(model)
    try:
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=EXIT_MARGIN_S) == 0
        assert time.monotonic() - sent < EXIT_MARGIN_S
    finally:
        server.stop()


def test_queue_time_count(model):
    server = Server(model)
    try:
        name = "vllm:request_queue_time_seconds"
        assert server.metric(name + "_count") == 0
        num_requests = 3
        for i in range(num_requests):
            status, body = server.post_json("/v1/completions", {
                "prompt": PROMPT, "max_tokens": 2, "n": 1 + i % 2})
            assert status == 200, body
        assert server.metric(name + "_count") == num_requests
        assert server.metric(name + "_bucket", 'le="+Inf"') == num_requests
        assert server.metric(name + "_sum") >= 0
        # vLLM's bounds for request latencies, the first and last of them.
        assert server.metric(name + "_bucket", 'le="0.3"') <= num_requests
        assert server.metric(name + "_bucket", 'le="7680"') == num_requests
    finally:
        server.stop()
