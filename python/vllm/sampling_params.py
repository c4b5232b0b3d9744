"""Sampling parameters for text generation, with vLLM's names, defaults and messages.

Supported fields: n, presence_penalty, frequency_penalty, repetition_penalty, temperature,
top_p, top_k, min_p, seed, stop, stop_token_ids, bad_words, include_stop_str_in_output,
ignore_eos, max_tokens, min_tokens, logprobs, prompt_logprobs, detokenize,
skip_special_tokens, logit_bias, allowed_token_ids, truncate_prompt_tokens.

Other vLLM fields are accepted so that vLLM code runs unchanged, in one of two ways:

* accepted and stored, without effect in this build: spaces_between_special_tokens (byte-level
  BPE tokenizers ignore it, as HF fast tokenizers do), output_kind, stream_interval,
  skip_clone, extra_args;
* accepted only at their defaults, and rejected with ValueError otherwise, because the
  engine does not implement them yet: structured_outputs, logprob_token_ids,
  thinking_token_budget.

Any other keyword raises TypeError, as for any Python call.
"""

import copy
import enum
import logging
import math
import os
from typing import Any, Optional, Union

logger = logging.getLogger(__name__)

_SAMPLING_EPS = 1e-5
_MAX_TEMP = 1e-2


class RequestOutputKind(enum.Enum):
    # Return the entire output so far in every RequestOutput.
    CUMULATIVE = 0
    # Return only the new part in each RequestOutput.
    DELTA = 1
    # Return only the final RequestOutput.
    FINAL_ONLY = 2


# Fields the engine does not implement yet, with the default that is the only value
# accepted. An empty list or None counts as the default for list fields.
_UNSUPPORTED_DEFAULTS = {
    "structured_outputs": None,
    "logprob_token_ids": None,
    "thinking_token_budget": None,
}


def _max_n_sequences() -> int:
    return int(os.environ.get("VLLM_MAX_N_SEQUENCES", "16384"))


class SamplingParams:
    """Sampling parameters for text generation.

    Arguments, defaults and validation messages follow vLLM's `SamplingParams`; see the
    module docstring for the fields this build does not implement.
    """

    def __init__(
        self,
        n: int = 1,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        repetition_penalty: float = 1.0,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        min_p: float = 0.0,
        seed: Optional[int] = None,
        stop: Union[str, list[str], None] = None,
        stop_token_ids: Optional[list[int]] = None,
        ignore_eos: bool = False,
        max_tokens: Optional[int] = 16,
        min_tokens: int = 0,
        logprobs: Optional[int] = None,
        prompt_logprobs: Optional[int] = None,
        detokenize: bool = True,
        skip_special_tokens: bool = True,
        spaces_between_special_tokens: bool = True,
        include_stop_str_in_output: bool = False,
        output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE,
        stream_interval: Optional[int] = None,
        skip_clone: bool = False,
        structured_outputs: Optional[Any] = None,
        logit_bias: Optional[dict[int, float]] = None,
        allowed_token_ids: Optional[list[int]] = None,
        extra_args: Optional[dict[str, Any]] = None,
        bad_words: Optional[list[str]] = None,
        thinking_token_budget: Optional[int] = None,
        logprob_token_ids: Optional[list[int]] = None,
        truncate_prompt_tokens: Optional[int] = None,
    ) -> None:
        self.n = n
        self.presence_penalty = presence_penalty
        self.frequency_penalty = frequency_penalty
        self.repetition_penalty = repetition_penalty
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.min_p = min_p
        self.seed = seed
        self.stop = stop
        self.stop_token_ids = stop_token_ids
        self.ignore_eos = ignore_eos
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.logprobs = logprobs
        self.prompt_logprobs = prompt_logprobs
        self.detokenize = detokenize
        self.skip_special_tokens = skip_special_tokens
        self.spaces_between_special_tokens = spaces_between_special_tokens
        self.include_stop_str_in_output = include_stop_str_in_output
        self.output_kind = output_kind
        self.stream_interval = stream_interval
        self.skip_clone = skip_clone
        self.structured_outputs = structured_outputs
        self.logit_bias = logit_bias
        self.allowed_token_ids = allowed_token_ids
        self.extra_args = extra_args
        self.bad_words = bad_words
        self.thinking_token_budget = thinking_token_budget
        self.logprob_token_ids = logprob_token_ids
        self.truncate_prompt_tokens = truncate_prompt_tokens
        self._post_init()

    def _post_init(self) -> None:
        # Normalisations vLLM applies before validating.
        if 0 < self.temperature < _MAX_TEMP:
            logger.warning(
                "temperature %s is less than %s, which may cause numerical errors nan or "
                "inf in tensors. We have maxed it out to %s.",
                self.temperature, _MAX_TEMP, _MAX_TEMP,
            )
            self.temperature = max(self.temperature, _MAX_TEMP)
        if self.seed == -1:
            self.seed = None
        if self.stop is None:
            self.stop = []
        elif isinstance(self.stop, str):
            self.stop = [self.stop]
        if self.stop_token_ids is None:
            self.stop_token_ids = []
        else:
            self.stop_token_ids = list(dict.fromkeys(self.stop_token_ids))
        if self.bad_words is None:
            self.bad_words = []
        else:
            self.bad_words = list(dict.fromkeys(self.bad_words))
        if self.logit_bias is not None:
            self.logit_bias = {int(token): float(bias) for token, bias in self.logit_bias.items()}
        if self.logprobs is True:
            self.logprobs = 1
        if self.prompt_logprobs is True:
            self.prompt_logprobs = 1

        self._verify_args()
        self._verify_supported()

        if self.temperature < _SAMPLING_EPS:
            # Zero temperature means greedy sampling.
            self.top_p = 1.0
            self.top_k = 0
            self.min_p = 0.0
            self._verify_greedy_sampling()

    def _verify_args(self) -> None:
        if not isinstance(self.n, int):
            raise ValueError(f"n must be an int, but is of type {type(self.n)}")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}.")
        max_n = _max_n_sequences()
        if self.n > max_n:
            raise ValueError(
                f"n must be at most {max_n}, got {self.n}. To increase this limit, set "
                "the VLLM_MAX_N_SEQUENCES environment variable."
            )
        if not -2.0 <= self.presence_penalty <= 2.0:
            raise ValueError(
                f"presence_penalty must be in [-2, 2], got {self.presence_penalty}."
            )
        if not -2.0 <= self.frequency_penalty <= 2.0:
            raise ValueError(
                f"frequency_penalty must be in [-2, 2], got {self.frequency_penalty}."
            )
        if not math.isfinite(self.repetition_penalty):
            raise ValueError(
                f"repetition_penalty must be a finite number, got {self.repetition_penalty}."
            )
        if self.repetition_penalty <= 0.0:
            raise ValueError(
                f"repetition_penalty must be greater than zero, got {self.repetition_penalty}."
            )
        if not math.isfinite(self.temperature):
            raise ValueError(f"temperature must be a finite number, got {self.temperature}.")
        if self.temperature < 0.0:
            raise ValueError(f"temperature must be non-negative, got {self.temperature}.")
        if self.temperature > 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}.")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        # -1 is accepted as "disabled", as in vLLM, though 0 is preferred.
        if self.top_k < -1:
            raise ValueError(f"top_k must be 0 (disable), or at least 1, got {self.top_k}.")
        if not isinstance(self.top_k, int):
            raise ValueError(f"top_k must be an integer, got {type(self.top_k).__name__}")
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}.")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}.")
        if self.min_tokens < 0:
            raise ValueError(
                f"min_tokens must be greater than or equal to 0, got {self.min_tokens}."
            )
        if self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise ValueError(
                f"min_tokens must be less than or equal to max_tokens={self.max_tokens}, "
                f"got {self.min_tokens}."
            )
        if self.stream_interval is not None and self.stream_interval < 1:
            raise ValueError(
                f"stream_interval must be at least 1, got {self.stream_interval}."
            )
        if self.logprobs is not None and self.logprobs != -1 and self.logprobs < 0:
            raise ValueError(f"logprobs must be non-negative or -1, got {self.logprobs}.")
        if (
            self.prompt_logprobs is not None
            and self.prompt_logprobs != -1
            and self.prompt_logprobs < 0
        ):
            raise ValueError(
                f"prompt_logprobs must be non-negative or -1, got {self.prompt_logprobs}."
            )
        if not all(isinstance(token_id, int) for token_id in self.stop_token_ids):
            raise ValueError(
                f"stop_token_ids must contain only integers, got {self.stop_token_ids}."
            )
        if any(not stop_str for stop_str in self.stop):
            raise ValueError("stop cannot contain an empty string.")
        if self.stop and not self.detokenize:
            raise ValueError(
                "stop strings are only supported when detokenize is True. "
                "Set detokenize=True to use stop."
            )
        if any(not bad_word for bad_word in self.bad_words):
            raise ValueError(
                f"bad_words cannot contain an empty string. Got bad_words={self.bad_words}"
            )
        if self.allowed_token_ids is not None and len(self.allowed_token_ids) == 0:
            raise ValueError("allowed_token_ids is not None and empty!")
        if self.truncate_prompt_tokens is not None and (
            self.truncate_prompt_tokens == 0 or self.truncate_prompt_tokens < -1
        ):
            raise ValueError(
                "truncate_prompt_tokens must be at least 1, or -1 for max_model_len, got "
                f"{self.truncate_prompt_tokens}."
            )

    def _verify_supported(self) -> None:
        for name, default in _UNSUPPORTED_DEFAULTS.items():
            value = getattr(self, name)
            is_default = value == default or (default is None and value in ([], {}))
            if not is_default:
                raise ValueError(
                    f"{name}={value!r} is not supported yet by this vLLM build; leave it "
                    f"at its default {default!r}."
                )

    def _verify_greedy_sampling(self) -> None:
        if self.n > 1:
            raise ValueError(f"n must be 1 when using greedy sampling, got {self.n}.")

    @property
    def output_text_buffer_length(self) -> int:
        """Characters of streamed text held back so that no part of a stop string shows."""
        if self.stop and not self.include_stop_str_in_output:
            return max(len(stop_str) for stop_str in self.stop) - 1
        return 0

    @property
    def all_stop_token_ids(self) -> set[int]:
        return set(self.stop_token_ids)

    def clone(self) -> "SamplingParams":
        """Return a deep copy, or a shallow one when skip_clone is set, as in vLLM."""
        return copy.copy(self) if self.skip_clone else copy.deepcopy(self)

    def _to_engine(self) -> Any:
        """Return the `vllm._C.SamplingParams` the engine receives."""
        from vllm import _C

        params = _C.SamplingParams()
        params.n = self.n
        params.temperature = float(self.temperature)
        params.top_p = float(self.top_p)
        params.top_k = self.top_k
        params.min_p = float(self.min_p)
        params.seed = self.seed
        params.max_tokens = self.max_tokens
        params.min_tokens = self.min_tokens
        params.stop_token_ids = list(self.stop_token_ids)
        params.ignore_eos = self.ignore_eos
        params.logprobs = self.logprobs
        params.skip_special_tokens = self.skip_special_tokens
        params.presence_penalty = float(self.presence_penalty)
        params.frequency_penalty = float(self.frequency_penalty)
        params.repetition_penalty = float(self.repetition_penalty)
        params.stop = list(self.stop)
        params.bad_words = list(self.bad_words)
        params.include_stop_str_in_output = self.include_stop_str_in_output
        params.prompt_logprobs = self.prompt_logprobs
        params.detokenize = self.detokenize
        params.spaces_between_special_tokens = self.spaces_between_special_tokens
        params.logit_bias = dict(self.logit_bias) if self.logit_bias else {}
        params.allowed_token_ids = (
            list(self.allowed_token_ids) if self.allowed_token_ids is not None else None
        )
        params.truncate_prompt_tokens = self.truncate_prompt_tokens
        # NOTE: output_kind stays on the Python side; the engine reports cumulative outputs
        # and the Python frontends derive deltas from them.
        return params

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SamplingParams) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return (
            f"SamplingParams(n={self.n}, "
            f"presence_penalty={self.presence_penalty}, "
            f"frequency_penalty={self.frequency_penalty}, "
            f"repetition_penalty={self.repetition_penalty}, "
            f"temperature={self.temperature}, "
            f"top_p={self.top_p}, "
            f"top_k={self.top_k}, "
            f"min_p={self.min_p}, "
            f"seed={self.seed}, "
            f"stop={self.stop}, "
            f"stop_token_ids={self.stop_token_ids}, "
            f"bad_words={self.bad_words}, "
            f"thinking_token_budget={self.thinking_token_budget}, "
            f"include_stop_str_in_output={self.include_stop_str_in_output}, "
            f"ignore_eos={self.ignore_eos}, "
            f"max_tokens={self.max_tokens}, "
            f"min_tokens={self.min_tokens}, "
            f"logprobs={self.logprobs}, "
            f"prompt_logprobs={self.prompt_logprobs}, "
            f"skip_special_tokens={self.skip_special_tokens}, "
            "spaces_between_special_tokens="
            f"{self.spaces_between_special_tokens}, "
            f"structured_outputs={self.structured_outputs}, "
            f"extra_args={self.extra_args})"
        )
