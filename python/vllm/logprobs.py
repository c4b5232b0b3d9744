"""Log probabilities of generated tokens, as in vLLM's `vllm.logprobs`."""

from dataclasses import dataclass
from typing import Optional


@dataclass
class Logprob:
    """Log probability of one token, with its rank in the vocabulary.

    Attributes:
        logprob: The natural log of the token's probability.
        rank: The 1-based rank of the token among the vocabulary.
        decoded_token: The text the token decodes to.
    """

    logprob: float
    rank: Optional[int] = None
    decoded_token: Optional[str] = None


# One dict per generated token: token id -> Logprob (the sampled token and the top ones).
SampleLogprobs = list[dict[int, Logprob]]
