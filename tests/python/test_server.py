"""The OpenAI-compatible server (`vllm serve`), started once per module with the real model
and driven with the official `openai` client and with raw HTTP where the client hides
status codes or the SSE framing."""

import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest
from conftest import vllm_command

openai = pytest.importorskip("openai")

MODEL_NAME = "smollm2"
MAX_MODEL_LEN = 512
MAX_BODY_BYTES = 1 << 20
PROMPT = "The capital of France is"
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


def server_binary() -> str:
    # VLLM_SERVER_BINARY names a build's C++ program, else the installed `vllm` command runs.
    explicit = os.environ.get("VLLM_SERVER_BINARY")
    if explicit:
        return explicit
    return vllm_command()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, model: str, *extra: str):
        self.port = free_port()
        args = [server_binary(), "serve", model, "--host", "127.0.0.1", "--port",
                str(self.port), "--served-model-name", MODEL_NAME, "--max-model-len",
                str(MAX_MODEL_LEN), "--kv-cache-memory-bytes", str(64 << 20),
                "--max-request-body-bytes", str(MAX_BODY_BYTES), *extra]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "VLLM_LOGGING_LEVEL": "WARNING"})
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read()}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become healthy within 180 s")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def request(self, method, path, body=None, headers=None):
        """Returns (status, body bytes); `body` may be a dict (sent as JSON) or bytes."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        connection.request(method, path, body=body,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data

    def post_json(self, path, body, headers=None):
        status, data = self.request("POST", path, body, headers)
        return status, json.loads(data) if data else None

    def stream_events(self, path, body):
        """Returns the data lines of an SSE response, [DONE] included."""
        status, data = self.request("POST", path, {**body, "stream": True})
        assert status == 200, data
        return [line[len("data: "):] for line in data.decode().split("\n\n") if line]

    def client(self, api_key="EMPTY"):
        return openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key=api_key,
                             max_retries=0)

    def metric(self, name, labels=""):
        status, data = self.request("GET", "/metrics")
        assert status == 200
        pattern = re.compile(rf"^{re.escape(name)}\{{[^}}]*{re.escape(labels)}[^}}]*\}} (\S+)$",
                             re.MULTILINE)
        match = pattern.search(data.decode())
        assert match is not None, f"{name} missing from /metrics"
        return float(match.group(1))


@pytest.fixture(scope="module")
def server(model):
    started = Server(model)
    yield started
    started.stop()


def num_prompt_tokens(server, body):
    status, tokenized = server.post_json("/tokenize", body)
    assert status == 200, tokenized
    return tokenized["count"]


def test_health(server):
    status, data = server.request("GET", "/health")
    assert status == 200
    assert data == b""


def test_models_list(server, model):
    models = server.client().models.list().data
    assert [entry.id for entry in models] == [MODEL_NAME]
    status, raw = server.request("GET", "/v1/models")
    entry = json.loads(raw)["data"][0]
    assert entry["object"] == "model"
    assert entry["owned_by"] == "vllm"
    assert entry["root"] == model
    assert entry["max_model_len"] == MAX_MODEL_LEN


def test_version(server):
    status, data = server.request("GET", "/version")
    assert status == 200
    assert "version" in json.loads(data)


def test_completion_usage(server):
    completion = server.client().completions.create(
        model=MODEL_NAME, prompt=PROMPT, max_tokens=8, temperature=0.0)
    choice = completion.choices[0]
    assert completion.object == "text_completion"
    assert choice.text != ""
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens == num_prompt_tokens(server, {"prompt": PROMPT})
    assert completion.usage.total_tokens == (completion.usage.prompt_tokens
                                             + completion.usage.completion_tokens)
    assert completion.usage.completion_tokens <= 8


def test_completion_stream_matches(server):
    client = server.client()
    body = dict(model=MODEL_NAME, prompt=PROMPT, max_tokens=12, temperature=0.0,
                extra_body={"ignore_eos": True})
    whole = client.completions.create(**body)
    chunks = list(client.completions.create(stream=True, **body))
    assert "".join(chunk.choices[0].text for chunk in chunks) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert whole.usage.completion_tokens == 12


def test_completion_token_prompts(server):
    token_ids = server.post_json("/tokenize", {"prompt": PROMPT})[1]["tokens"]
    status, body = server.post_json("/v1/completions", {
        "prompt": [token_ids, PROMPT], "max_tokens": 4, "temperature": 0})
    assert status == 200, body
    assert [choice["index"] for choice in body["choices"]] == [0, 1]
    assert body["choices"][0]["text"] == body["choices"][1]["text"]
    assert body["usage"]["prompt_tokens"] == 2 * len(token_ids)


def test_completion_echo(server):
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 3, "temperature": 0, "echo": True})
    assert status == 200, body
    assert body["choices"][0]["text"].startswith(PROMPT)


def test_completion_n_two(server):
    completion = server.client().completions.create(
        model=MODEL_NAME, prompt=PROMPT, max_tokens=6, n=2, temperature=1.0, seed=7)
    assert sorted(choice.index for choice in completion.choices) == [0, 1]


def test_completion_logprobs_shape(server):
    completion = server.client().completions.create(
        model=MODEL_NAME, prompt=PROMPT, max_tokens=5, temperature=0.0, logprobs=2,
        extra_body={"ignore_eos": True})
    logprobs = completion.choices[0].logprobs
    assert len(logprobs.tokens) == 5
    assert len(logprobs.token_logprobs) == 5
    assert len(logprobs.text_offset) == 5
    assert all(2 <= len(top) <= 3 for top in logprobs.top_logprobs)
    assert all(value <= 0.0 for value in logprobs.token_logprobs)
    assert "".join(logprobs.tokens) == completion.choices[0].text


def test_chat_completion(server):
    chat = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_completion_tokens=8, temperature=0.0)
    choice = chat.choices[0]
    assert chat.object == "chat.completion"
    assert choice.message.role == "assistant"
    assert choice.message.content != ""
    assert choice.finish_reason in ("stop", "length")
    assert chat.usage.prompt_tokens == num_prompt_tokens(server, {"messages": MESSAGES})


def test_chat_stream_events(server):
    body = {"messages": MESSAGES, "max_tokens": 10, "temperature": 0.0, "ignore_eos": True}
    status, whole = server.post_json("/v1/chat/completions", body)
    assert status == 200, whole
    events = server.stream_events("/v1/chat/completions", body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    reasons = [chunk["choices"][0]["finish_reason"] for chunk in chunks]
    assert reasons[-1] == "length"
    assert all(reason is None for reason in reasons[:-1])
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == whole["choices"][0]["message"]["content"]


def test_chat_stream_client(server):
    stream = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=6, temperature=0.0, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert 1 <= chunks[-1].usage.completion_tokens <= 6
    assert chunks[-1].usage.prompt_tokens == num_prompt_tokens(server, {"messages": MESSAGES})
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_chat_logprobs_shape(server):
    chat = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=4, temperature=0.0, logprobs=True,
        top_logprobs=3, extra_body={"ignore_eos": True})
    content = chat.choices[0].logprobs.content
    assert len(content) == 4
    assert all(len(entry.top_logprobs) == 3 for entry in content)
    # Greedy decoding samples the most likely token.
    assert all(entry.top_logprobs[0].token == entry.token for entry in content)
    assert all(bytes(entry.bytes).decode("utf-8", "replace") == entry.token
               for entry in content if entry.bytes is not None)


def test_detokenize_roundtrip(server):
    tokens = server.post_json("/tokenize", {"prompt": PROMPT, "add_special_tokens": False})[1]
    status, body = server.post_json("/detokenize", {"tokens": tokens["tokens"]})
    assert status == 200
    assert body["prompt"] == PROMPT


@pytest.mark.parametrize("field, value", [
    ("temperature", -1.0),
    ("top_p", 0.0),
    ("max_tokens", 0),
    ("max_tokens", 100000),
    ("n", 0),
    ("temperature", "hot"),
    ("stream_options", {"include_usage": True}),
])
def test_invalid_field_400(server, field, value):
    status, body = server.post_json("/v1/completions",
                                    {"prompt": PROMPT, "max_tokens": 4, field: value})
    assert status == 400, body
    assert body["error"]["type"] == "BadRequestError"
    assert body["error"]["code"] == 400
    assert body["error"]["message"] != ""


def test_prompt_too_long_400(server):
    status, body = server.post_json("/v1/completions",
                                    {"prompt": "hello " * 1000, "max_tokens": 4})
    assert status == 400
    assert "maximum context length is 512 tokens" in body["error"]["message"]


def test_invalid_json_400(server):
    status, body = server.post_json("/v1/chat/completions", b"{not json")
    assert status == 400
    assert body["error"]["code"] == 400


def test_unknown_model_404(server):
    status, body = server.post_json("/v1/completions",
                                    {"model": "nope", "prompt": PROMPT, "max_tokens": 2})
    assert status == 404
    assert body["error"]["message"] == "The model `nope` does not exist."


def test_routes_404_405(server):
    assert server.request("GET", "/v1/unknown")[0] == 404
    assert server.request("GET", "/v1/completions")[0] == 405


def test_body_too_large_413(server):
    status, _ = server.request("POST", "/v1/completions", b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413
    # The server still responds afterwards.
    assert server.request("GET", "/health")[0] == 200


def test_header_too_large_431(server):
    status, _ = server.request("GET", "/health", headers={"X-Padding": "y" * (32 << 10)})
    assert status == 431
    assert server.request("GET", "/health")[0] == 200


def test_idle_connection_closed(server):
    # The default keep-alive timeout is 5 s; a silent client is disconnected after it.
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as client:
        client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")   # headers never finished
        start = time.monotonic()
        assert client.recv(1024) == b""
        assert 3.0 <= time.monotonic() - start <= 12.0


def test_concurrent_completions(server):
    results = [None] * 8

    def run(index):
        results[index] = server.post_json("/v1/completions", {
            "prompt": f"{PROMPT} {index}", "max_tokens": 16, "temperature": 0,
            "ignore_eos": True})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    print(f"8 concurrent completions of 16 tokens: {8 / elapsed:.2f} requests/s")
    for status, body in results:
        assert status == 200, body
        assert body["usage"]["completion_tokens"] == 16


def test_disconnect_aborts(server):
    aborted_before = server.metric("vllm:request_success_total", 'finished_reason="abort"')
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/completions", body=json.dumps({
        "prompt": PROMPT, "max_tokens": 400, "ignore_eos": True, "stream": True}),
        headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    response.fp.readline()   # the first chunk arrives, then the client goes away
    connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.metric("vllm:request_success_total", 'finished_reason="abort"') > aborted_before:
            break
        time.sleep(0.1)
    assert server.metric("vllm:request_success_total",
                         'finished_reason="abort"') == aborted_before + 1
    status, body = server.post_json("/v1/completions", {"prompt": PROMPT, "max_tokens": 2})
    assert status == 200, body


def test_metrics_count_tokens(server):
    prompt_before = server.metric("vllm:prompt_tokens_total")
    generated_before = server.metric("vllm:generation_tokens_total")
    success_before = server.metric("vllm:request_success_total", 'finished_reason="length"')
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 3, "ignore_eos": True})
    assert status == 200, body
    assert server.metric("vllm:prompt_tokens_total") == (prompt_before
                                                         + body["usage"]["prompt_tokens"])
    assert server.metric("vllm:generation_tokens_total") == generated_before + 3
    assert server.metric("vllm:request_success_total",
                         'finished_reason="length"') == success_before + 1


def test_api_key_401(model):
    secured = Server(model, "--api-key", "secret")
    try:
        status, body = secured.request("GET", "/v1/models")
        assert status == 401
        assert json.loads(body) == {"error": "Unauthorized"}
        assert secured.request("GET", "/v1/models",
                               headers={"Authorization": "Bearer secret"})[0] == 200
        assert secured.request("GET", "/health")[0] == 200
        with pytest.raises(openai.AuthenticationError):
            secured.client(api_key="wrong").models.list()
    finally:
        secured.stop()
