"""Engine arguments with vLLM's names, converted to the C++ engine's `EngineArgs`.

Supported: model, seed, max_model_len, max_num_seqs, max_num_batched_tokens, block_size,
kv_cache_memory_bytes, and dtype "auto" or "float32" (the CPU engine computes in float32).

enable_chunked_prefill: the engine always splits a prompt that does not fit in a step's
token budget. False only checks, as vLLM does, that max_num_batched_tokens is at least
max_model_len, so that every prompt fits in one step's budget when the step has nothing
else to run; with other requests in that step the prompt can still be split.

Accepted only at their defaults, rejected with ValueError otherwise: tokenizer (the
tokenizer always comes from the model files), skip_tokenizer_init, tensor_parallel_size,
pipeline_parallel_size, quantization (None or "gguf"), revision, tokenizer_revision.

Accepted and ignored, because they have no meaning for the CPU engine: tokenizer_mode,
trust_remote_code, gpu_memory_utilization, swap_space, cpu_offload_gb, enforce_eager,
disable_log_stats, disable_custom_all_reduce.

Any other keyword raises TypeError, as vLLM's EngineArgs does.
"""

from dataclasses import dataclass
from typing import Any, Optional

# What `resolve_model_path` maps to the default model in the cache.
DEFAULT_MODEL = "SmolLM2-135M-Instruct"

_SUPPORTED_DTYPES = ("auto", "float32", "float")
_SUPPORTED_QUANTIZATIONS = (None, "gguf")


@dataclass
class EngineArgs:
    """Arguments for the engine; zero or None in a size means "derive it"."""

    model: str = DEFAULT_MODEL
    tokenizer: Optional[str] = None
    tokenizer_mode: str = "auto"
    skip_tokenizer_init: bool = False
    trust_remote_code: bool = False
    dtype: str = "auto"
    seed: int = 0
    max_model_len: Optional[int] = None
    max_num_seqs: Optional[int] = None
    max_num_batched_tokens: Optional[int] = None
    block_size: Optional[int] = None
    kv_cache_memory_bytes: Optional[int] = None
    enable_prefix_caching: bool = True
    enable_chunked_prefill: Optional[bool] = None
    scheduling_policy: str = "fcfs"
    quantization: Optional[str] = None
    revision: Optional[str] = None
    tokenizer_revision: Optional[str] = None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    swap_space: float = 4
    cpu_offload_gb: float = 0
    enforce_eager: bool = False
    disable_log_stats: bool = False
    disable_custom_all_reduce: bool = False

    def __post_init__(self) -> None:
        self._reject_unsupported()
        for name in ("max_model_len", "max_num_seqs", "max_num_batched_tokens",
                     "block_size", "kv_cache_memory_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if (self.enable_chunked_prefill is False and self.max_num_batched_tokens is not None
                and self.max_model_len is not None
                and self.max_num_batched_tokens < self.max_model_len):
            raise ValueError(
                f"max_num_batched_tokens ({self.max_num_batched_tokens}) is smaller than "
                f"max_model_len ({self.max_model_len}). This effectively limits the maximum "
                "sequence length to max_num_batched_tokens and makes vLLM reject longer "
                "sequences. Please increase max_num_batched_tokens or decrease max_model_len."
            )

    def _reject_unsupported(self) -> None:
        if self.tokenizer is not None and self.tokenizer != self.model:
            raise ValueError(
                f"tokenizer={self.tokenizer!r} is not supported yet by this vLLM build: the "
                "tokenizer is always loaded from the model files; leave tokenizer=None."
            )
        if self.skip_tokenizer_init:
            raise ValueError("skip_tokenizer_init=True is not supported yet by this vLLM build.")
        if self.dtype not in _SUPPORTED_DTYPES:
            raise ValueError(
                f"dtype={self.dtype!r} is not supported yet by this vLLM build; use 'auto' or "
                "'float32'."
            )
        if self.quantization not in _SUPPORTED_QUANTIZATIONS:
            raise ValueError(
                f"quantization={self.quantization!r} is not supported yet by this vLLM build; "
                "GGUF files carry their own quantization, so leave it at None."
            )
        for name in ("tensor_parallel_size", "pipeline_parallel_size"):
            if getattr(self, name) != 1:
                raise ValueError(
                    f"{name}={getattr(self, name)} is not supported yet by this vLLM build; "
                    "it runs on one device."
                )
        for name in ("revision", "tokenizer_revision"):
            if getattr(self, name) is not None:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not supported: this build loads local "
                    "model files only."
                )

    def create_engine_args(self) -> Any:
        """Return the `vllm._C.EngineArgs` for these arguments."""
        from vllm import _C

        args = _C.EngineArgs()
        args.model = self.model
        args.seed = self.seed
        args.enable_prefix_caching = self.enable_prefix_caching
        args.scheduling_policy = self.scheduling_policy
        if self.max_model_len is not None:
            args.max_model_len = self.max_model_len
        if self.max_num_seqs is not None:
            args.max_num_seqs = self.max_num_seqs
        if self.max_num_batched_tokens is not None:
            args.max_num_batched_tokens = self.max_num_batched_tokens
        if self.block_size is not None:
            args.block_size = self.block_size
        if self.kv_cache_memory_bytes is not None:
            args.kv_cache_memory_bytes = self.kv_cache_memory_bytes
        return args
