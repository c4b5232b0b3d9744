"""`vllm chat` and `vllm complete` against a real server started once for the module, with an
API key so that the key flags and $OPENAI_API_KEY are exercised too."""

import os
import subprocess

import pytest
from test_server import MODEL_NAME, Server, free_port, server_binary

API_KEY = "cli-secret"


@pytest.fixture(scope="module")
def server(model):
    started = Server(model, "--api-key", API_KEY)
    yield started
    started.stop()


def run_client(server, *args, stdin="", api_key=API_KEY, url=None):
    """Runs a client command; returns the CompletedProcess."""
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    if api_key is not None:
        env["OPENAI_API_KEY"] = api_key
    return subprocess.run(
        [server_binary(), *args, "--url", url or server.base_url()], input=stdin,
        capture_output=True, text=True, timeout=120, env=env)


def chat_prompt_tokens(server, messages):
    status, body = server.post_json("/tokenize", {"messages": messages},
                                    headers={"Authorization": f"Bearer {API_KEY}"})
    assert status == 200, body
    return body["count"]


def test_complete_quick(server):
    result = run_client(server, "complete", "-q", "The capital of France is",
                        "--max-tokens", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == f"Using model: {MODEL_NAME}"
    assert lines[1].strip() != ""
    assert "Please enter" not in result.stdout


def test_complete_reads_stdin(server):
    result = run_client(server, "complete", "--max-tokens", "3",
                        stdin="Once upon a time\nThe sky is\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Using model: {MODEL_NAME}\n"
                                    "Please enter prompt to complete:\n> ")
    # One prompt marker per line read, plus the one answered by the end of the input.
    assert result.stdout.count("> ") == 3
    assert result.stdout.endswith("> ")


def test_chat_keeps_history(server):
    before = server.metric("vllm:prompt_tokens_total")
    result = run_client(server, "chat", "--max-tokens", "4", stdin="Hello\nHow are you?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Using model: {MODEL_NAME}\n"
                                    "Please enter a message for the chat model:\n> ")
    assert result.stdout.count("> ") == 3
    # The second request resends the first exchange, so it is longer than both messages
    # sent on their own.
    alone = (chat_prompt_tokens(server, [{"role": "user", "content": "Hello"}])
             + chat_prompt_tokens(server, [{"role": "user", "content": "How are you?"}]))
    assert server.metric("vllm:prompt_tokens_total") - before > alone


def test_chat_system_prompt(server):
    before = server.metric("vllm:prompt_tokens_total")
    result = run_client(server, "chat", "--system-prompt", "Answer in French.", "-q", "Hi",
                        "--max-tokens", "3", "--model-name", MODEL_NAME)
    assert result.returncode == 0, result.stderr
    expected = chat_prompt_tokens(server, [{"role": "system", "content": "Answer in French."},
                                           {"role": "user", "content": "Hi"}])
    assert server.metric("vllm:prompt_tokens_total") - before == expected


def test_api_key_flag(server):
    result = run_client(server, "complete", "-q", "Hi", "--max-tokens", "2", "--api-key",
                        API_KEY, api_key=None)
    assert result.returncode == 0, result.stderr


def test_wrong_api_key(server):
    result = run_client(server, "chat", "-q", "Hi", api_key="wrong")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert "401" in result.stderr
    assert "--api-key" in result.stderr


def test_unknown_model(server):
    result = run_client(server, "complete", "-q", "Hi", "--model-name", "nope")
    assert result.returncode != 0
    assert "The model `nope` does not exist." in result.stderr
    assert result.stderr.count("\n") == 1


def test_server_down(server):
    result = run_client(server, "chat", "-q", "Hi",
                        url=f"http://127.0.0.1:{free_port()}/v1")
    assert result.returncode != 0
    assert "could not connect" in result.stderr
    assert result.stderr.count("\n") == 1


def test_invalid_url(server):
    result = run_client(server, "chat", "-q", "Hi", url="https://example.invalid/v1")
    assert result.returncode != 0
    assert "only http:// URLs" in result.stderr
