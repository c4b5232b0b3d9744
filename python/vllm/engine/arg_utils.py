"""Engine arguments with vLLM's names, converted to the C++ engine's `EngineArgs`.

Supported: model, revision, seed, max_model_len, max_num_seqs, max_num_batched_tokens,
block_size, kv_cache_memory_bytes, generation_config ("auto", "vllm" or a folder holding a
generation_config.json), and dtype: "auto", "float32" ("float"), "bfloat16" or "float16"
("half"), the type safetensors weight matrices are stored in (activations are float32;
GGUF files keep their tensor types).

enable_chunked_prefill: None or True splits prompts that do not fit in a step's token
budget over several steps; False schedules each prompt whole, and then
max_num_batched_tokens must be at least max_model_len, as in vLLM.

Accepted only at their defaults, rejected with ValueError otherwise: tokenizer (the
tokenizer always comes from the model files), skip_tokenizer_init, tensor_parallel_size,
pipeline_parallel_size, quantization (None or "gguf"), tokenizer_revision (None or the
same as revision).

Accepted and ignored, because they have no meaning for the CPU engine: tokenizer_mode,
trust_remote_code, gpu_memory_utilization, swap_space, cpu_offload_gb, enforce_eager,
disable_log_stats, disable_custom_all_reduce.

Any other keyword raises TypeError, as vLLM's EngineArgs does.
"""

from dataclasses import dataclass
from typing import Any, Optional

# What `resolve_model_path` maps to the default model in the cache.
DEFAULT_MODEL = "SmolLM2-135M-Instruct"

# vLLM's dtype names mapped to the engine's.
_DTYPES = {
    "auto": "auto",
    "float32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "float16": "float16",
    "half": "float16",
}
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
    generation_config: str = "auto"
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

    def _reject_unsupported(self) -> None:
        if self.tokenizer is not None and self.tokenizer != self.model:
            raise ValueError(
                f"tokenizer={self.tokenizer!r} is not supported yet by this vLLM build: the "
                "tokenizer is always loaded from the model files; leave tokenizer=None."
            )
        if self.skip_tokenizer_init:
            raise ValueError("skip_tokenizer_init=True is not supported yet by this vLLM build.")
        if self.dtype not in _DTYPES:
            raise ValueError(
                f"dtype={self.dtype!r} is not supported by this vLLM build; use one of "
                f"{', '.join(repr(name) for name in _DTYPES)}."
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
        if self.tokenizer_revision is not None and self.tokenizer_revision != self.revision:
            raise ValueError(
                f"tokenizer_revision={self.tokenizer_revision!r} is not supported yet by this "
                "vLLM build: the tokenizer comes from the model's revision; leave it None."
            )
        if not isinstance(self.generation_config, str) or not self.generation_config:
            raise ValueError(
                "generation_config must be 'auto', 'vllm' or the path of a folder holding a "
                f"generation_config.json, got {self.generation_config!r}."
            )

    def create_engine_args(self) -> Any:
        """Return the `vllm._C.EngineArgs` for these arguments."""
        from vllm import _C

        args = _C.EngineArgs()
        args.model = self.model
        if self.revision is not None:
            args.revision = self.revision
        args.dtype = _DTYPES[self.dtype]
        args.generation_config = self.generation_config
        args.seed = self.seed
        args.enable_prefix_caching = self.enable_prefix_caching
        if self.enable_chunked_prefill is not None:
            args.enable_chunked_prefill = self.enable_chunked_prefill
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
