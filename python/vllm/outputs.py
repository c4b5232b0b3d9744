"""Results of LLM.generate, with vLLM's class and attribute names."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from vllm.logprobs import Logprob, SampleLogprobs

__all__ = ["CompletionOutput", "Logprob", "RequestOutput"]


@dataclass
class CompletionOutput:
    """The output data of one completion output of a request.

    Args:
        index: The index of the output in the request.
        text: The generated output text.
        token_ids: The token IDs of the generated output text.
        cumulative_logprob: The cumulative log probability of the generated output text,
            or None when logprobs were not requested.
        logprobs: The log probabilities of the top tokens at each position, or None when
            logprobs were not requested.
        finish_reason: Why the sequence finished ("stop", "length" or "abort"), or None
            while it runs.
        stop_reason: The stop token id that ended the sequence, or None when it ended for
            another reason, EOS included.
    """

    index: int
    text: str
    token_ids: Sequence[int]
    cumulative_logprob: Optional[float]
    logprobs: Optional[SampleLogprobs]
    finish_reason: Optional[str] = None
    stop_reason: Union[int, str, None] = None

    def finished(self) -> bool:
        return self.finish_reason is not None

    def __repr__(self) -> str:
        return (
            f"CompletionOutput(index={self.index}, "
            f"text={self.text!r}, "
            f"token_ids={self.token_ids}, "
            f"cumulative_logprob={self.cumulative_logprob}, "
            f"logprobs={self.logprobs}, "
            f"finish_reason={self.finish_reason}, "
            f"stop_reason={self.stop_reason})"
        )


class RequestOutput:
    """The output data of a completion request to the LLM.

    Args:
        request_id: The unique ID of the request.
        prompt: The prompt string of the request, or None for a token-id prompt.
        prompt_token_ids: The token IDs of the prompt.
        prompt_logprobs: Per prompt token, None for the first and then a dict of token id to
            Logprob; None when prompt_logprobs was not requested.
        outputs: The output sequences of the request.
        finished: Whether the whole request is finished.
        num_cached_tokens: The number of prompt tokens served from the prefix cache.
    """

    def __init__(
        self,
        request_id: str,
        prompt: Optional[str],
        prompt_token_ids: Optional[list[int]],
        prompt_logprobs: Optional[Any],
        outputs: list[CompletionOutput],
        finished: bool,
        metrics: Optional[Any] = None,
        lora_request: Optional[Any] = None,
        encoder_prompt: Optional[str] = None,
        encoder_prompt_token_ids: Optional[list[int]] = None,
        num_cached_tokens: Optional[int] = None,
    ) -> None:
        self.request_id = request_id
        self.prompt = prompt
        self.prompt_token_ids = prompt_token_ids
        self.prompt_logprobs = prompt_logprobs
        self.outputs = outputs
        self.finished = finished
        self.metrics = metrics
        self.lora_request = lora_request
        self.encoder_prompt = encoder_prompt
        self.encoder_prompt_token_ids = encoder_prompt_token_ids
        self.num_cached_tokens = num_cached_tokens

    def __repr__(self) -> str:
        return (
            f"RequestOutput(request_id={self.request_id}, "
            f"prompt={self.prompt!r}, "
            f"prompt_token_ids={self.prompt_token_ids}, "
            f"encoder_prompt={self.encoder_prompt!r}, "
            f"encoder_prompt_token_ids={self.encoder_prompt_token_ids}, "
            f"prompt_logprobs={self.prompt_logprobs}, "
            f"outputs={self.outputs}, "
            f"finished={self.finished}, "
            f"metrics={self.metrics}, "
            f"lora_request={self.lora_request}, "
            f"num_cached_tokens={self.num_cached_tokens})"
        )


def _logprob_dict(position: Any, token_id: int) -> dict:
    """Build one position's logprobs in vLLM's order: the chosen token, then the others by
    rank (ties by token id). The engine's map arrives ordered by token id."""
    entries = sorted(position.items(), key=lambda item: (item[0] != token_id, item[1].rank, item[0]))
    return {
        key: Logprob(entry.logprob, entry.rank, entry.decoded_token) for key, entry in entries
    }


def completion_output_from_engine(output: Any, logprobs_requested: bool) -> CompletionOutput:
    """Convert a `vllm._C.CompletionOutput` to a CompletionOutput."""
    logprobs = None
    token_ids = list(output.token_ids)
    if logprobs_requested and output.logprobs is not None:
        logprobs = [
            _logprob_dict(position, token_id)
            for position, token_id in zip(output.logprobs, token_ids)
        ]
    return CompletionOutput(
        index=output.index,
        text=output.text,
        token_ids=token_ids,
        # As in vLLM, the cumulative logprob is computed only when logprobs are requested.
        cumulative_logprob=output.cumulative_logprob if logprobs_requested else None,
        logprobs=logprobs,
        finish_reason=output.finish_reason,
        stop_reason=output.stop_reason,
    )


def _prompt_logprobs_from_engine(prompt_logprobs: Any, prompt_token_ids: list) -> Optional[list]:
    """Convert the engine's prompt logprobs: None for the first prompt token, then dicts."""
    if prompt_logprobs is None:
        return None
    return [
        None if position is None else _logprob_dict(position, token_id)
        for position, token_id in zip(prompt_logprobs, prompt_token_ids)
    ]


def request_output_from_engine(
    output: Any, prompt: Optional[str], logprobs_requested: bool
) -> RequestOutput:
    """Convert a `vllm._C.RequestOutput` to a RequestOutput.

    `prompt` replaces the engine's copy because the LLM class sends token ids, not text.
    """
    prompt_token_ids = list(output.prompt_token_ids)
    return RequestOutput(
        request_id=output.request_id,
        prompt=prompt,
        prompt_token_ids=prompt_token_ids,
        prompt_logprobs=_prompt_logprobs_from_engine(output.prompt_logprobs, prompt_token_ids),
        outputs=[completion_output_from_engine(o, logprobs_requested) for o in output.outputs],
        finished=output.finished,
        num_cached_tokens=output.num_cached_tokens,
    )
