"""The OpenAI-compatible server (`vllm serve`), started once per module with the real model
and driven with the official `openai` client and with raw HTTP where the client hides
status codes or the SSE framing."""

import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from conftest import hf_model_dir, vllm_command

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
        # The log goes to a file, which the tests read and which never fills up as a pipe
        # would.
        self.log_file = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=self.log_file, text=True,
            env={**os.environ, "VLLM_LOGGING_LEVEL": "WARNING"})
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
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
        self.log_file.close()

    def log(self) -> str:
        """Returns what the server has logged so far."""
        self.log_file.flush()
        self.log_file.seek(0)
        return self.log_file.read()

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

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

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


def test_content_type_must_be_json(server):
    body = {"prompt": PROMPT, "max_tokens": 2}
    status, error = server.post_json("/v1/completions", body, {"Content-Type": "text/plain"})
    assert status == 400
    assert "Content-Type 'text/plain'" in error["error"]["message"]
    for content_type in ("application/json; charset=utf-8", "Application/JSON",
                         "application/merge-patch+json"):
        status, _ = server.post_json("/v1/completions", body, {"Content-Type": content_type})
        assert status == 200, content_type


def test_content_type_absent_reads_json(server):
    body = json.dumps({"prompt": PROMPT, "max_tokens": 2}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        response = b""
        while chunk := client.recv(4096):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response[:200]


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


def test_malformed_chunked_body_400(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")   # "zz" is not a hex size
        response = client.recv(4096)
    assert response.startswith(b"HTTP/1.1 400")
    assert b"Invalid HTTP request body" in response
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


# --- vLLM's request fields, one group per test -----------------------------------------

def single_token_id(server, text):
    status, body = server.post_json("/tokenize", {"prompt": text, "add_special_tokens": False})
    assert status == 200, body
    assert len(body["tokens"]) == 1, f"{text!r} is not a single token: {body['tokens']}"
    return body["tokens"][0]


def complete(server, **fields):
    return server.client().completions.create(model=MODEL_NAME, prompt=fields.pop("prompt", PROMPT),
                                              **fields)


def test_seed_reproducible(server):
    first = complete(server, max_tokens=12, temperature=1.0, seed=123)
    second = complete(server, max_tokens=12, temperature=1.0, seed=123)
    assert first.choices[0].text == second.choices[0].text


def test_truncation_filters_match_greedy(server):
    greedy = complete(server, max_tokens=12, temperature=0.0,
                      extra_body={"ignore_eos": True}).choices[0].text
    top_k = complete(server, max_tokens=12, temperature=1.0, seed=1,
                     extra_body={"top_k": 1, "ignore_eos": True}).choices[0].text
    top_p = complete(server, max_tokens=12, temperature=1.0, seed=1, top_p=1e-6,
                     extra_body={"ignore_eos": True}).choices[0].text
    min_p = complete(server, max_tokens=12, temperature=1.0, seed=1,
                     extra_body={"min_p": 1.0, "ignore_eos": True}).choices[0].text
    assert top_k == greedy
    assert top_p == greedy
    assert min_p == greedy


def test_penalties_change_output(server):
    prompt = "one one one one one one one one"
    base = complete(server, prompt=prompt, max_tokens=16, temperature=0.0,
                    extra_body={"ignore_eos": True}).choices[0].text
    frequency = complete(server, prompt=prompt, max_tokens=16, temperature=0.0,
                         frequency_penalty=2.0, extra_body={"ignore_eos": True}).choices[0].text
    presence = complete(server, prompt=prompt, max_tokens=16, temperature=0.0,
                        presence_penalty=2.0, extra_body={"ignore_eos": True}).choices[0].text
    repetition = complete(server, prompt=prompt, max_tokens=16, temperature=0.0,
                          extra_body={"repetition_penalty": 2.0,
                                      "ignore_eos": True}).choices[0].text
    assert frequency != base
    assert presence != base
    assert repetition != base


def test_logit_bias_forces_token(server):
    token = single_token_id(server, " the")
    completion = complete(server, max_tokens=3, temperature=0.0, logit_bias={str(token): 100},
                          extra_body={"ignore_eos": True})
    assert completion.choices[0].text == " the the the"


def test_allowed_token_ids(server):
    token = single_token_id(server, " blue")
    completion = complete(server, max_tokens=3, temperature=1.0, seed=3,
                          extra_body={"allowed_token_ids": [token], "ignore_eos": True})
    assert completion.choices[0].text == " blue blue blue"


def test_stop_token_ids(server):
    token = single_token_id(server, " blue")
    completion = complete(server, max_tokens=8, temperature=0.0,
                          extra_body={"allowed_token_ids": [token], "stop_token_ids": [token]})
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].stop_reason == token
    assert completion.usage.completion_tokens == 1


def test_min_tokens_and_ignore_eos(server):
    base = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=64, temperature=0.0)
    if base.choices[0].finish_reason != "stop":
        pytest.skip("the greedy reply does not end with EOS within 64 tokens")
    length = base.usage.completion_tokens
    longer = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=64, temperature=0.0,
        extra_body={"min_tokens": length + 5})
    forced = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=length + 3, temperature=0.0,
        extra_body={"ignore_eos": True})
    assert longer.usage.completion_tokens >= length + 5
    assert forced.usage.completion_tokens == length + 3
    assert forced.choices[0].finish_reason == "length"


def test_stop_strings(server):
    base = complete(server, max_tokens=16, temperature=0.0,
                    extra_body={"ignore_eos": True}).choices[0].text
    words = base.split()
    assert len(words) >= 3, base
    stop = words[2]
    stopped = complete(server, max_tokens=16, temperature=0.0, stop=[stop],
                       extra_body={"ignore_eos": True}).choices[0]
    kept = complete(server, max_tokens=16, temperature=0.0, stop=stop,
                    extra_body={"ignore_eos": True,
                                "include_stop_str_in_output": True}).choices[0]
    assert stopped.finish_reason == "stop"
    assert stopped.stop_reason == stop
    assert stopped.text == base[:base.index(stop)]
    assert kept.text == base[:base.index(stop) + len(stop)]


def test_bad_words(server):
    base = complete(server, max_tokens=8, temperature=0.0,
                    extra_body={"ignore_eos": True}).choices[0].text
    word = base.split()[0]
    banned = complete(server, max_tokens=8, temperature=0.0,
                      extra_body={"ignore_eos": True, "bad_words": [word]}).choices[0].text
    assert banned != base
    assert not banned.lstrip().startswith(word)


def test_skip_special_tokens(server):
    eos = single_token_id(server, "<|im_end|>")
    fields = {"allowed_token_ids": [eos], "ignore_eos": True}
    skipped = complete(server, max_tokens=2, temperature=0.0, extra_body=fields)
    shown = complete(server, max_tokens=2, temperature=0.0,
                     extra_body={**fields, "skip_special_tokens": False,
                                 "spaces_between_special_tokens": False})
    assert skipped.choices[0].text == ""
    assert shown.choices[0].text == "<|im_end|><|im_end|>"


def test_prompt_logprobs_completions(server):
    count = num_prompt_tokens(server, {"prompt": PROMPT})
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 2, "temperature": 0, "prompt_logprobs": 1})
    assert status == 200, body
    prompt_logprobs = body["choices"][0]["prompt_logprobs"]
    assert len(prompt_logprobs) == count
    assert prompt_logprobs[0] is None
    assert all(1 <= len(entry) <= 2 for entry in prompt_logprobs[1:])
    assert all(value["logprob"] <= 0.0 for entry in prompt_logprobs[1:]
               for value in entry.values())
    # As in vLLM: the prompt token first, then the top tokens by rank.
    status, tokenized = server.post_json("/tokenize", {"prompt": PROMPT})
    assert status == 200, tokenized
    for token_id, entry in zip(tokenized["tokens"][1:], prompt_logprobs[1:]):
        assert list(entry)[0] == str(token_id)


def test_completion_top_logprobs_order(server):
    # vLLM lists the sampled token first, then the top tokens by rank. At temperature 1.5 the
    # draw often falls outside the top 3, where an order by token id would put it elsewhere.
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 16, "temperature": 1.5, "seed": 3, "logprobs": 3,
        "ignore_eos": True})
    assert status == 200, body
    logprobs = body["choices"][0]["logprobs"]
    for token, top in zip(logprobs["tokens"], logprobs["top_logprobs"]):
        assert list(top)[0] == token
        rest = list(top.values())[1:]
        assert rest == sorted(rest, reverse=True)


def test_prompt_logprobs_chat(server):
    count = num_prompt_tokens(server, {"messages": MESSAGES})
    status, body = server.post_json("/v1/chat/completions", {
        "messages": MESSAGES, "max_tokens": 2, "prompt_logprobs": 0})
    assert status == 200, body
    assert len(body["prompt_logprobs"]) == count
    assert body["prompt_logprobs"][0] is None


def test_prompt_logprobs_stream_400(server):
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 2, "prompt_logprobs": 1, "stream": True})
    assert status == 400
    assert body["error"]["param"] == "prompt_logprobs"


def test_echo_with_logprobs(server):
    count = num_prompt_tokens(server, {"prompt": PROMPT})
    completion = complete(server, max_tokens=3, temperature=0.0, echo=True, logprobs=1,
                          extra_body={"ignore_eos": True})
    logprobs = completion.choices[0].logprobs
    assert completion.choices[0].text.startswith(PROMPT)
    assert len(logprobs.tokens) == count + 3
    assert logprobs.token_logprobs[0] is None
    assert logprobs.top_logprobs[0] is None
    assert all(value <= 0.0 for value in logprobs.token_logprobs[1:])
    assert logprobs.text_offset[0] == 0


def test_chat_echo(server):
    messages = [*MESSAGES, {"role": "assistant", "content": "The answer is"}]
    chat = server.client().chat.completions.create(
        model=MODEL_NAME, messages=messages, max_tokens=4, temperature=0.0,
        extra_body={"echo": True, "continue_final_message": True,
                    "add_generation_prompt": False})
    assert chat.choices[0].message.content.startswith("The answer is")
    events = server.stream_events("/v1/chat/completions", {
        "messages": messages, "max_tokens": 4, "temperature": 0.0, "echo": True,
        "continue_final_message": True, "add_generation_prompt": False})
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert chunks[1]["choices"][0]["delta"]["content"] == "The answer is"
    assert text == chat.choices[0].message.content


def test_truncate_prompt_tokens(server):
    completion = complete(server, prompt="hello " * 600, max_tokens=2,
                          extra_body={"truncate_prompt_tokens": 100})
    assert completion.usage.prompt_tokens == 100
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 2, "truncate_prompt_tokens": MAX_MODEL_LEN + 1})
    assert status == 400
    assert body["error"]["param"] == "truncate_prompt_tokens"


def test_chat_template_fields(server):
    template = "{{ greeting }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    chat = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=2,
        extra_body={"chat_template": template, "chat_template_kwargs": {"greeting": "Hi! "}})
    expected = num_prompt_tokens(server, {"prompt": "Hi! " + MESSAGES[0]["content"],
                                          "add_special_tokens": False})
    assert chat.usage.prompt_tokens == expected
    with_prompt = num_prompt_tokens(server, {"messages": MESSAGES})
    without = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=2,
        extra_body={"add_generation_prompt": False})
    assert without.usage.prompt_tokens < with_prompt


def test_chat_null_content_renders_empty(server):
    # As in vLLM, a message whose content is null or absent renders as "". The template
    # concatenates content, so None reaching it would raise.
    template = "{% for m in messages %}[{{ m['content'] + '|' }}]{% endfor %}"
    messages = [{"role": "user", "content": "Hi"},
                {"role": "assistant", "content": None},
                {"role": "assistant"}]
    status, body = server.post_json("/v1/chat/completions", {
        "messages": messages, "max_tokens": 1, "chat_template": template})
    assert status == 200, body
    expected = num_prompt_tokens(server, {"prompt": "[Hi|][|][|]", "add_special_tokens": False})
    assert body["usage"]["prompt_tokens"] == expected
    status, body = server.post_json("/v1/chat/completions", {
        "messages": MESSAGES + [{"role": "assistant", "content": None}], "max_tokens": 1})
    assert status == 200, body


@pytest.mark.parametrize("part, message", [
    ({"type": 5}, "messages[0].content[0].type must be a string"),
    ({"type": "text"}, "messages[0].content[0].text must be a string"),
    ({"type": "image_url"}, "only text parts are supported"),
])
def test_chat_invalid_content_part_400(server, part, message):
    status, body = server.post_json("/v1/chat/completions", {
        "messages": [{"role": "user", "content": [part]}], "max_tokens": 1})
    assert status == 400, body
    assert message in body["error"]["message"]
    assert body["error"]["param"] == "messages"


@pytest.mark.parametrize("field, value, message", [
    ("name", 5, "messages[0].name must be a string"),
    ("tool_call_id", 5, "messages[0].tool_call_id must be a string"),
    ("tool_calls", 5, "messages[0].tool_calls must be a list"),
    ("tool_calls", [5], "messages[0].tool_calls[0] must be an object"),
])
def test_chat_invalid_message_field_400(server, field, value, message):
    status, body = server.post_json("/v1/chat/completions", {
        "messages": [{"role": "user", "content": "Hi", field: value}], "max_tokens": 1})
    assert status == 400, body
    assert message in body["error"]["message"]
    assert body["error"]["param"] == "messages"


def test_request_id_and_user(server):
    completion = complete(server, max_tokens=2, user="someone",
                          extra_body={"request_id": "my-id-1"})
    assert completion.id == "cmpl-my-id-1"
    status, body = server.post_json("/v1/chat/completions",
                                    {"messages": MESSAGES, "max_tokens": 2},
                                    headers={"X-Request-Id": "header-id"})
    assert status == 200, body
    assert body["id"] == "chatcmpl-header-id"


def test_duplicate_request_id_400(server):
    # A request whose output sink was replaced would hang; the timeout makes that a failure.
    client = server.client().with_options(timeout=60)
    stream = client.completions.create(
        model=MODEL_NAME, prompt=PROMPT, max_tokens=40, stream=True,
        extra_body={"ignore_eos": True}, extra_headers={"X-Request-Id": "dup-id"})
    chunks = [next(iter(stream))]
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=2,
                                  extra_headers={"X-Request-Id": "dup-id"})
    assert "already running" in str(error.value)
    # The request in flight is unaffected: it streams to its end.
    chunks += list(stream)
    assert chunks[-1].choices[0].finish_reason == "length"
    assert sum(len(chunk.choices[0].text) > 0 for chunk in chunks) > 1


def test_unknown_fields_logged(server):
    status, body = server.post_json("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 2, "frobnicate": 1})
    assert status == 200, body
    deadline = time.monotonic() + 5
    expected = "The following fields were present in the request but ignored: {'frobnicate'}"
    while expected not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert expected in server.log()


@pytest.mark.parametrize("path, field, value", [
    ("/v1/completions", "top_k", "many"),
    ("/v1/completions", "min_p", 2.0),
    ("/v1/completions", "repetition_penalty", 0.0),
    ("/v1/completions", "presence_penalty", 3.0),
    ("/v1/completions", "frequency_penalty", -3.0),
    ("/v1/completions", "min_tokens", -1),
    ("/v1/completions", "ignore_eos", "yes"),
    ("/v1/completions", "stop", 5),
    ("/v1/completions", "stop_token_ids", [-1]),
    ("/v1/completions", "bad_words", [1]),
    ("/v1/completions", "allowed_token_ids", "x"),
    ("/v1/completions", "logit_bias", {"x": 1}),
    ("/v1/completions", "logprobs", 1000),
    ("/v1/completions", "prompt_logprobs", -5),
    ("/v1/completions", "echo", "yes"),
    ("/v1/completions", "seed", 1.5),
    ("/v1/completions", "truncate_prompt_tokens", 0),
    ("/v1/completions", "priority", "high"),
    ("/v1/completions", "user", 5),
    ("/v1/completions", "cache_salt", ""),
    ("/v1/chat/completions", "top_logprobs", 2),
    ("/v1/chat/completions", "max_completion_tokens", "many"),
    ("/v1/chat/completions", "chat_template_kwargs", []),
    ("/v1/chat/completions", "add_generation_prompt", "no"),
    ("/v1/chat/completions", "echo", 1),
    ("/v1/chat/completions", "skip_special_tokens", "no"),
])
def test_field_type_400(server, path, field, value):
    body = {"max_tokens": 2, field: value}
    body.update({"prompt": PROMPT} if path == "/v1/completions" else {"messages": MESSAGES})
    status, response = server.post_json(path, body)
    assert status == 400, response
    assert field in response["error"]["message"]


# --- Streaming usage, Expect: 100-continue, priority, prefix caching --------------------

def test_continuous_usage_stats(server):
    stream = server.client().chat.completions.create(
        model=MODEL_NAME, messages=MESSAGES, max_tokens=6, temperature=0.0, stream=True,
        stream_options={"include_usage": True, "continuous_usage_stats": True},
        extra_body={"ignore_eos": True})
    chunks = list(stream)
    prompt_tokens = num_prompt_tokens(server, {"messages": MESSAGES})
    assert all(chunk.usage is not None for chunk in chunks)
    assert all(chunk.usage.prompt_tokens == prompt_tokens for chunk in chunks)
    counts = [chunk.usage.completion_tokens for chunk in chunks]
    assert counts == sorted(counts)
    assert counts[0] == 0
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 6


def test_continuous_usage_needs_include(server):
    events = server.stream_events("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 3, "stream_options": {"continuous_usage_stats": True}})
    chunks = [json.loads(event) for event in events[:-1]]
    assert all("usage" not in chunk or chunk["usage"] is None for chunk in chunks)


def test_completion_continuous_usage(server):
    events = server.stream_events("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 4, "ignore_eos": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True}})
    chunks = [json.loads(event) for event in events[:-1]]
    counts = [chunk["usage"]["completion_tokens"] for chunk in chunks if chunk["choices"]]
    # Each chunk reports the tokens so far; one chunk may bring several tokens.
    assert counts == sorted(set(counts))
    assert counts[0] >= 1
    assert counts[-1] == 4
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_expect_continue(server):
    body = json.dumps({"prompt": PROMPT, "max_tokens": 2, "padding": "x" * 2048}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        client.settimeout(0.5)
        interim = client.recv(1024)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.settimeout(30)
        client.sendall(body)
        response = b""
        while b"\r\n\r\n" not in response:
            response += client.recv(4096)
    assert response.startswith(b"HTTP/1.1 200")


def test_expect_continue_too_large(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: " + str(MAX_BODY_BYTES + 1).encode() + b"\r\n\r\n")
        response = client.recv(1024)
    assert response.startswith(b"HTTP/1.1 413")


def test_priority_needs_policy(server):
    status, body = server.post_json("/v1/completions",
                                    {"prompt": PROMPT, "max_tokens": 2, "priority": 5})
    assert status == 400
    assert "Priority scheduling is not enabled" in body["error"]["message"]
    status, body = server.post_json("/v1/completions",
                                    {"prompt": PROMPT, "max_tokens": 2, "priority": 0})
    assert status == 200, body


def test_prompt_tokens_details_off(server):
    completion = complete(server, max_tokens=2)
    assert completion.usage.prompt_tokens_details is None


def test_metric_names(server):
    complete(server, max_tokens=3, extra_body={"ignore_eos": True})
    status, data = server.request("GET", "/metrics")
    assert status == 200
    text = data.decode()
    label = f'model_name="{MODEL_NAME}"'
    for name in ["vllm:num_requests_running", "vllm:num_requests_waiting",
                 "vllm:kv_cache_usage_perc", "vllm:prompt_tokens_total",
                 "vllm:generation_tokens_total", "vllm:request_success_total",
                 "vllm:num_preemptions_total", "vllm:prefix_cache_queries_total",
                 "vllm:prefix_cache_hits_total", "vllm:time_to_first_token_seconds_count",
                 "vllm:inter_token_latency_seconds_count",
                 "vllm:e2e_request_latency_seconds_count"]:
        assert re.search(rf"^{re.escape(name)}\{{[^}}]*{re.escape(label)}", text, re.MULTILINE), name
    assert server.metric("vllm:inter_token_latency_seconds_count") >= 2


# A second server with the priority policy, one running request at a time so that the
# waiting queue's order shows, and cached-token reporting.
@pytest.fixture(scope="module")
def priority_server(model):
    started = Server(model, "--scheduling-policy", "priority", "--max-num-seqs", "1",
                     "--enable-prompt-tokens-details")
    yield started
    started.stop()


def wait_for_metric(server, name, value, timeout=30.0):
    deadline = time.monotonic() + timeout
    while server.metric(name) != value:
        assert time.monotonic() < deadline, f"{name} never reached {value}"
        time.sleep(0.05)


def test_priority_orders_waiting(priority_server):
    finished = []

    def run(name, priority):
        status, body = priority_server.post_json("/v1/completions", {
            "prompt": PROMPT, "max_tokens": 4, "priority": priority})
        assert status == 200, body
        finished.append(name)

    # A long stream occupies the only running slot while two requests queue behind it.
    blocker = http.client.HTTPConnection("127.0.0.1", priority_server.port, timeout=120)
    blocker.request("POST", "/v1/completions", body=json.dumps({
        "prompt": PROMPT, "max_tokens": 120, "ignore_eos": True, "stream": True}),
        headers={"Content-Type": "application/json"})
    response = blocker.getresponse()
    assert response.status == 200
    response.readline()   # the first event: the blocker is running
    late = threading.Thread(target=run, args=("late", 10))
    urgent = threading.Thread(target=run, args=("urgent", -10))
    late.start()
    wait_for_metric(priority_server, "vllm:num_requests_waiting", 1)
    urgent.start()
    wait_for_metric(priority_server, "vllm:num_requests_waiting", 2)
    response.read()
    blocker.close()
    late.join()
    urgent.join()
    assert finished == ["urgent", "late"]


SHARED_PREFIX = "You are a helpful assistant who answers briefly and precisely. " * 6


def test_cached_tokens_reported(priority_server):
    client = priority_server.client()
    client.completions.create(model=MODEL_NAME, prompt=SHARED_PREFIX + "First question?",
                              max_tokens=2)
    hits_before = priority_server.metric("vllm:prefix_cache_hits_total")
    queries_before = priority_server.metric("vllm:prefix_cache_queries_total")
    second = client.completions.create(model=MODEL_NAME,
                                       prompt=SHARED_PREFIX + "Second question?", max_tokens=2)
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached > 0
    assert cached % 16 == 0
    assert priority_server.metric("vllm:prefix_cache_hits_total") == hits_before + cached
    assert priority_server.metric("vllm:prefix_cache_queries_total") >= queries_before + cached

    stream = client.completions.create(model=MODEL_NAME, prompt=SHARED_PREFIX + "Third?",
                                       max_tokens=2, stream=True,
                                       stream_options={"include_usage": True})
    final = list(stream)[-1]
    assert final.usage.prompt_tokens_details.cached_tokens == cached


def test_reset_prefix_cache(priority_server):
    client = priority_server.client()
    prompt = SHARED_PREFIX + "Reset question?"
    client.completions.create(model=MODEL_NAME, prompt=prompt, max_tokens=2)
    cached = client.completions.create(model=MODEL_NAME, prompt=prompt, max_tokens=2)
    assert cached.usage.prompt_tokens_details.cached_tokens > 0
    status, data = priority_server.request("POST", "/reset_prefix_cache")
    assert status == 200
    assert data == b""
    fresh = client.completions.create(model=MODEL_NAME, prompt=prompt, max_tokens=2)
    assert fresh.usage.prompt_tokens_details is None


def test_reset_prefix_cache_busy(priority_server):
    connection = http.client.HTTPConnection("127.0.0.1", priority_server.port, timeout=120)
    connection.request("POST", "/v1/completions", body=json.dumps({
        "prompt": PROMPT, "max_tokens": 60, "ignore_eos": True, "stream": True}),
        headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.readline()   # the first event: the request is running and holds blocks
    status, body = priority_server.post_json("/reset_prefix_cache", None)
    response.read()
    connection.close()
    assert status == 409
    assert "hold KV cache blocks" in body["error"]["message"]
    assert priority_server.request("GET", "/reset_prefix_cache")[0] == 405


# --- Defaults from the model's generation_config.json -----------------------------------

@pytest.fixture(scope="module")
def config_server(tmp_path_factory):
    path = hf_model_dir(tmp_path_factory.mktemp("hf"),
                        {"temperature": 0.0, "max_new_tokens": 5})
    started = Server(path)
    yield started
    started.stop()


def test_config_defaults_greedy(config_server):
    # Unseeded requests without temperature are greedy only through the config.
    body = {"model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 5}
    first = config_server.post_json("/v1/completions", body)
    second = config_server.post_json("/v1/completions", body)
    greedy = config_server.post_json("/v1/completions", {**body, "temperature": 0.0})
    assert first[0] == 200, first[1]
    assert first[1]["choices"][0]["text"] == greedy[1]["choices"][0]["text"]
    assert second[1]["choices"][0]["text"] == greedy[1]["choices"][0]["text"]


def test_config_max_tokens_caps(config_server):
    body = {"model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 50,
            "ignore_eos": True}
    status, completion = config_server.post_json("/v1/completions", body)
    assert status == 200, completion
    assert completion["usage"]["completion_tokens"] == 5


def test_chat_config_defaults(config_server):
    body = {"model": MODEL_NAME, "messages": MESSAGES, "ignore_eos": True}
    first = config_server.post_json("/v1/chat/completions", body)
    second = config_server.post_json("/v1/chat/completions", body)
    assert first[0] == 200, first[1]
    assert first[1]["usage"]["completion_tokens"] == 5
    assert first[1]["choices"][0]["message"] == second[1]["choices"][0]["message"]


def test_request_temperature_wins(config_server):
    body = {"model": MODEL_NAME, "prompt": "My favourite colour is", "max_tokens": 5}
    status, greedy = config_server.post_json("/v1/completions", body)
    assert status == 200, greedy
    sampled = [
        config_server.post_json("/v1/completions", {**body, "temperature": 1.0, "seed": seed})
        for seed in range(3)
    ]
    texts = [completion["choices"][0]["text"] for _, completion in sampled]
    assert any(text != greedy["choices"][0]["text"] for text in texts)
