"""Per-token timing of requests run on an LLM's engine directly, without a server.

The feature benchmarks in benchmarks/ (prefix caching, chunked prefill) need each
request's time to first token and inter-token gaps while other requests run, which
LLM.generate does not expose. EngineTimer adds requests to `llm.llm_engine` and polls its
outputs, stamping each new token with the time the poll returned it.

Resolution: a token is stamped when this process receives it, at most one engine step
after it was sampled. When one poll returns several new tokens of a request (the poller
fell behind), they share one stamp, which shows up as zero-length gaps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

# Seconds one poll may wait for outputs; short enough to stop promptly when done.
_POLL_TIMEOUT_S = 0.05


@dataclass
class TimedRequest:
    request_id: str
    prompt_len: int
    arrival: float                                    # perf_counter() when added
    token_times: list[float] = field(default_factory=list)  # perf_counter() per token
    num_cached_tokens: int = 0
    finished: bool = False

    @property
    def ttft(self) -> Optional[float]:
        return self.token_times[0] - self.arrival if self.token_times else None

    @property
    def gaps(self) -> list[float]:
        """Seconds between successive tokens."""
        return [b - a for a, b in zip(self.token_times, self.token_times[1:])]


class EngineTimer:
    """Adds requests to an LLM's engine and records when each of their tokens arrives."""

    def __init__(self, llm: Any) -> None:
        self.engine = llm.llm_engine
        self.requests: dict[str, TimedRequest] = {}

    def add(self, request_id: str, prompt_token_ids: list[int], params: Any) -> TimedRequest:
        """Queue a request; `params` is a vllm.SamplingParams."""
        request = TimedRequest(request_id, len(prompt_token_ids), time.perf_counter())
        self.requests[request_id] = request
        self.engine.add_request(request_id, None, list(prompt_token_ids), params._to_engine())
        return request

    def poll(self, timeout_s: float = _POLL_TIMEOUT_S) -> None:
        outputs = self.engine.get_outputs(timeout_s)
        now = time.perf_counter()
        for output in outputs:
            request = self.requests.get(output.request_id)
            if request is None:
                continue
            num_tokens = len(output.outputs[0].token_ids) if output.outputs else 0
            new_tokens = num_tokens - len(request.token_times)
            if new_tokens > 0:
                request.token_times.extend([now] * new_tokens)
            request.num_cached_tokens = output.num_cached_tokens
            request.finished = request.finished or output.finished

    def run_until(self, done: Callable[[], bool], timeout_s: float = 3600.0) -> None:
        """Poll until done() holds; raise RuntimeError after timeout_s seconds."""
        deadline = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the benchmark did not finish within {timeout_s} s")
            self.poll()

    def run_all(self, timeout_s: float = 3600.0) -> None:
        self.run_until(lambda: all(r.finished for r in self.requests.values()), timeout_s)

    def abort_unfinished(self) -> None:
        """Abort every unfinished request and wait until the engine has dropped them."""
        unfinished = [r.request_id for r in self.requests.values() if not r.finished]
        if unfinished:
            self.engine.abort_request(unfinished)
        deadline = time.perf_counter() + 60.0
        while self.engine.has_unfinished_requests() and time.perf_counter() < deadline:
            self.engine.get_outputs(_POLL_TIMEOUT_S)
        for request in self.requests.values():
            request.finished = True


def engine_stat(llm: Any, name: str) -> Optional[int]:
    """Return an EngineStats counter, or None when this build does not publish it."""
    return getattr(llm.llm_engine.stats(), name, None)
