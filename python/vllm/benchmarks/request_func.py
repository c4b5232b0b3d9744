"""Streaming requests to an OpenAI-compatible server, timed per token, on plain asyncio.

A small HTTP/1.1 client (one connection per request, `Connection: close`) reads the
server-sent events as they arrive, so the timestamps are those of the bytes reaching
this process, with no client library in between.

Timing, in seconds from the moment the request is written:
  ttft     the first event that carries generated tokens;
  itl      the gaps between successive events that carry tokens;
  latency  the last such event.
An event carries tokens when it has a choice and its usage.completion_tokens grew (the
request asks for continuous usage stats) or, from servers without them, when its text is
not empty. The chat role chunk, sent before any token, and the final usage-only chunk
therefore never count as tokens.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Optional, Union
from urllib.parse import urlsplit

BACKENDS = ("openai", "openai-chat")

# The largest header block or chunk-size line accepted from the server, in bytes.
_MAX_LINE_BYTES = 1 << 16


@dataclass
class RequestFuncInput:
    prompt: Union[str, list[int]]
    prompt_len: int
    output_len: int
    model: str
    api_url: str
    ignore_eos: bool = False
    api_key: Optional[str] = None
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass
class RequestFuncOutput:
    success: bool = False
    generated_text: str = ""
    prompt_len: int = 0          # the server's usage.prompt_tokens, else the dataset's
    output_tokens: int = 0       # the server's usage.completion_tokens, else token events
    ttft: float = 0.0
    itl: list[float] = field(default_factory=list)
    latency: float = 0.0
    start_time: float = 0.0      # time.perf_counter() when the request was sent
    error: str = ""


class HttpError(Exception):
    pass


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    line = await reader.readuntil(b"\n")
    if len(line) > _MAX_LINE_BYTES:
        raise HttpError("response line too long")
    return line


async def _body_pieces(reader: asyncio.StreamReader,
                       headers: dict[str, str]) -> AsyncIterator[bytes]:
    """Yield the response body as it arrives, undoing chunked transfer encoding."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await _read_line(reader)
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)  # the CRLF after each chunk
            yield data
    elif "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining > 0:
            data = await reader.read(min(remaining, 1 << 16))
            if not data:
                raise HttpError("connection closed inside the response body")
            remaining -= len(data)
            yield data
    else:
        while data := await reader.read(1 << 16):
            yield data


async def http_post(url: str, payload: dict[str, Any], api_key: Optional[str] = None
                    ) -> tuple[int, dict[str, str], AsyncIterator[bytes], asyncio.StreamWriter]:
    """Send a JSON POST; return status, lower-cased headers, the body pieces and the writer
    (the caller closes it)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise HttpError(f"only http:// URLs are supported, got {url!r}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    body = json.dumps(payload).encode()
    reader, writer = await asyncio.open_connection(host, port, limit=_MAX_LINE_BYTES * 4)
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Accept: text/event-stream", "Connection: close"]
    if api_key:
        head.append(f"Authorization: Bearer {api_key}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()

    status_line = (await _read_line(reader)).decode("latin-1")
    status_parts = status_line.split(" ", 2)
    if len(status_parts) < 2 or not status_parts[1].isdigit():
        writer.close()
        raise HttpError(f"bad status line from the server: {status_line.strip()!r}")
    headers: dict[str, str] = {}
    while True:
        line = (await _read_line(reader)).decode("latin-1").strip()
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_parts[1]), headers, _body_pieces(reader, headers), writer


def build_payload(backend: str, request: RequestFuncInput) -> dict[str, Any]:
    """Return the request body for `backend`: greedy, streamed, with usage in every chunk."""
    payload: dict[str, Any] = {
        "model": request.model,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "ignore_eos": request.ignore_eos,
    }
    if backend == "openai":
        payload["prompt"] = request.prompt
        payload["max_tokens"] = request.output_len
    elif backend == "openai-chat":
        if not isinstance(request.prompt, str):
            raise ValueError("the openai-chat backend needs text prompts")
        payload["messages"] = [{"role": "user", "content": request.prompt}]
        payload["max_completion_tokens"] = request.output_len
    else:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    payload.update(request.extra_body)
    return payload


def _choice_text(backend: str, choice: dict[str, Any]) -> str:
    if backend == "openai":
        return choice.get("text") or ""
    return (choice.get("delta") or {}).get("content") or ""


async def request_openai(backend: str, request: RequestFuncInput) -> RequestFuncOutput:
    """Send one streamed request and time its tokens; errors land in the output."""
    output = RequestFuncOutput(prompt_len=request.prompt_len)
    writer = None
    start = time.perf_counter()
    output.start_time = start
    try:
        status, _, pieces, writer = await http_post(
            request.api_url, build_payload(backend, request), request.api_key)
        if status != 200:
            body = b"".join([piece async for piece in pieces])
            output.error = f"HTTP {status}: {body.decode('utf-8', 'replace')[:500]}"
            return output
        last_token_time = 0.0
        num_token_events = 0
        usage_tokens = 0
        texts: list[str] = []
        buffer = b""
        done = False
        async for piece in pieces:
            now = time.perf_counter()
            buffer += piece
            # Events end with a blank line; a piece may hold several events or part of one.
            while b"\n\n" in buffer and not done:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.decode("utf-8").splitlines():
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:"):].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    chunk = json.loads(data)
                    if "error" in chunk:
                        output.error = f"the server sent an error: {chunk['error']}"
                    usage = chunk.get("usage") or {}
                    choices = chunk.get("choices") or []
                    text = _choice_text(backend, choices[0]) if choices else ""
                    texts.append(text)
                    completion_tokens = usage.get("completion_tokens")
                    if not choices:
                        has_tokens = False  # the final usage-only chunk
                    elif completion_tokens is not None:
                        has_tokens = completion_tokens > usage_tokens
                    else:
                        has_tokens = bool(text)
                    if completion_tokens is not None:
                        usage_tokens = max(usage_tokens, completion_tokens)
                    if usage.get("prompt_tokens") is not None:
                        output.prompt_len = usage["prompt_tokens"]
                    if not has_tokens:
                        continue
                    if num_token_events == 0:
                        output.ttft = now - start
                    else:
                        output.itl.append(now - last_token_time)
                    last_token_time = now
                    num_token_events += 1
        output.generated_text = "".join(texts)
        output.output_tokens = usage_tokens or num_token_events
        output.latency = last_token_time - start if num_token_events else 0.0
        output.success = num_token_events > 0 and not output.error
        if num_token_events == 0 and not output.error:
            output.error = "the stream ended without any generated token"
    except (OSError, asyncio.IncompleteReadError, HttpError, ValueError) as error:
        output.error = f"{type(error).__name__}: {error}"
    finally:
        if writer is not None:
            writer.close()
    return output

