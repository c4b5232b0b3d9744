"""The LLM class: vLLM's offline inference API on the C++ engine."""

import itertools
import json
import logging
import os
from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

from tqdm.auto import tqdm

from vllm import _C
from vllm.engine.arg_utils import DEFAULT_MODEL, EngineArgs
from vllm.outputs import RequestOutput, request_output_from_engine
from vllm.sampling_params import SamplingParams
from vllm.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

# vLLM's default --max-logprobs.
MAX_LOGPROBS = 20

# Seconds one wait for engine outputs may last; a short wait keeps Ctrl-C responsive.
_OUTPUT_WAIT_S = 0.1

_DEFAULT_MODEL_NAMES = ("", DEFAULT_MODEL, "HuggingFaceTB/SmolLM2-135M-Instruct")

# SamplingParams fields that a generation config can set (vLLM's get_diff_sampling_param).
_GENERATION_CONFIG_FIELDS = (
    "repetition_penalty", "temperature", "top_k", "top_p", "min_p", "max_tokens",
)


class _Prompt:
    """One validated prompt: its text (None for a token prompt) and its token ids."""

    __slots__ = ("text", "token_ids")

    def __init__(self, text: Optional[str], token_ids: list[int]) -> None:
        self.text = text
        self.token_ids = token_ids


class LLM:
    """An LLM for generating texts from given prompts and sampling parameters.

    Args:
        model: Path of a .gguf file or of a Hugging Face model directory, or the name of
            the default model ("SmolLM2-135M-Instruct"), which is loaded from the cache
            (fetch it with `python -m vllm.fetch_model`).
        tokenizer: Must be None (or the model): the tokenizer comes from the model files.
        revision: Branch, tag or commit of a Hugging Face repo id in the local cache.
        dtype: Type of the weight matrices of safetensors checkpoints: "auto" (the
            checkpoint's), "float32" ("float"), "bfloat16" or "float16" ("half").
            Activations are float32; GGUF files keep their tensor types.
        seed: Seed of the generators of requests whose SamplingParams have no seed.
        max_model_len: Context length in tokens; None uses the model's.
        max_num_seqs: Maximum number of sequences in one engine step.
        max_num_batched_tokens: Token budget of one engine step; None derives it.
        block_size: Tokens per KV cache block.
        kv_cache_memory_bytes: KV cache size in bytes; None uses VLLM_CPU_KVCACHE_SPACE
            (GiB) or free memory.
        generation_config: Where get_default_sampling_params() takes its values from:
            "auto" (the model's generation_config.json), "vllm" (vLLM's defaults) or a
            folder holding a generation_config.json.
        enable_chunked_prefill: False schedules each prompt whole; None or True splits
            long prompts over several engine steps.
        **kwargs: Further EngineArgs fields (see vllm.engine.arg_utils); an unknown name
            raises TypeError.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        tokenizer: Optional[str] = None,
        revision: Optional[str] = None,
        dtype: str = "auto",
        seed: int = 0,
        max_model_len: Optional[int] = None,
        max_num_seqs: Optional[int] = None,
        max_num_batched_tokens: Optional[int] = None,
        block_size: Optional[int] = None,
        kv_cache_memory_bytes: Optional[int] = None,
        generation_config: str = "auto",
        enable_chunked_prefill: Optional[bool] = None,
        **kwargs: Any,
    ) -> None:
        engine_args = EngineArgs(
            model=model,
            tokenizer=tokenizer,
            revision=revision,
            dtype=dtype,
            generation_config=generation_config,
            enable_chunked_prefill=enable_chunked_prefill,
            seed=seed,
            max_model_len=max_model_len,
            max_num_seqs=max_num_seqs,
            max_num_batched_tokens=max_num_batched_tokens,
            block_size=block_size,
            kv_cache_memory_bytes=kv_cache_memory_bytes,
            **kwargs,
        )
        if model in _DEFAULT_MODEL_NAMES and not os.path.exists(model):
            # Imported here so that `python -m vllm.fetch_model` runs a fresh module.
            from vllm.fetch_model import default_model_path

            path = default_model_path()
            if not path.is_file():
                raise ValueError(
                    f"The default model {DEFAULT_MODEL} was not found at {path}. Fetch it "
                    "with `python -m vllm.fetch_model`, or pass model=<path of a .gguf file>."
                )

        self.engine_args = engine_args
        self.llm_engine = _C.LLMEngine(engine_args.create_engine_args())
        self.model_config = self.llm_engine.model_config
        self.max_model_len = self.llm_engine.args.max_model_len
        self.request_counter = itertools.count()
        self.default_sampling_params: Optional[dict[str, Any]] = None
        self._tokenizer = Tokenizer(self.llm_engine.tokenizer)

    def reset_prefix_cache(self) -> bool:
        """Drop every cached prefix block; return False while requests still hold blocks."""
        return self.llm_engine.reset_prefix_cache()

    def get_tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def get_default_sampling_params(self) -> SamplingParams:
        """Return SamplingParams with the generation config's defaults.

        As in vLLM, the generation config (see `generation_config`) may set
        repetition_penalty, temperature, top_k, top_p, min_p and max_tokens (from
        max_new_tokens); the other fields keep SamplingParams' defaults. GGUF files carry
        no generation config.
        """
        if self.default_sampling_params is None:
            self.default_sampling_params = self._overridden_sampling_defaults()
        return SamplingParams(**self.default_sampling_params)

    def _overridden_sampling_defaults(self) -> dict[str, Any]:
        engine_defaults = self.llm_engine.default_sampling_params()
        plain = _C.SamplingParams()
        defaults = {
            field: getattr(engine_defaults, field)
            for field in _GENERATION_CONFIG_FIELDS
            if getattr(engine_defaults, field) != getattr(plain, field)
        }
        if defaults:
            logger.info(
                "Default sampling parameters have been overridden by the model's Hugging Face "
                "generation config recommended from the model creator: %s. If this is not "
                "intended, pass generation_config=\"vllm\".", defaults,
            )
        return defaults

    def generate(
        self,
        prompts: Any,
        sampling_params: Union[SamplingParams, Sequence[SamplingParams], None] = None,
        *,
        use_tqdm: Union[bool, Callable[..., tqdm]] = True,
        lora_request: Any = None,
        priority: Optional[list[int]] = None,
        tokenization_kwargs: Optional[dict[str, Any]] = None,
    ) -> list[RequestOutput]:
        """Generate the completions for the input prompts.

        Args:
            prompts: A prompt or a list of prompts. A prompt is a string, a list of token
                ids, {"prompt": str} or {"prompt_token_ids": list[int]}.
            sampling_params: One SamplingParams for every prompt, or a list paired with
                the prompts one by one. None uses get_default_sampling_params().
            use_tqdm: Show a progress bar; a callable creates the bar instead of tqdm.
            lora_request: Must be None: LoRA is not supported yet.
            priority: Must be None or all zeros: priority scheduling is not supported yet.
            tokenization_kwargs: Only "add_special_tokens" is taken.

        Returns:
            One RequestOutput per prompt, in the order of the prompts.

        Every prompt and parameter is validated before any request is queued, so a
        ValueError leaves the engine unchanged.
        """
        if lora_request is not None:
            raise ValueError("lora_request is not supported yet by this vLLM build.")
        if priority is not None and any(priority):
            raise ValueError("priority scheduling is not supported yet by this vLLM build.")
        add_special_tokens = bool((tokenization_kwargs or {}).get("add_special_tokens", True))

        prompt_list = self._parse_prompts(prompts)
        if sampling_params is None:
            sampling_params = self.get_default_sampling_params()
        if isinstance(sampling_params, SamplingParams):
            params_list = [sampling_params] * len(prompt_list)
        elif isinstance(sampling_params, Sequence):
            params_list = list(sampling_params)
            if len(params_list) != len(prompt_list):
                raise ValueError("The lengths of prompts and params must be the same.")
        else:
            raise TypeError(
                "sampling_params must be a SamplingParams, a list of them or None, got "
                f"{type(sampling_params).__name__}"
            )
        for params in params_list:
            if not isinstance(params, SamplingParams):
                raise TypeError(
                    f"sampling_params must contain SamplingParams, got {type(params).__name__}"
                )
            self._validate_params(params)

        validated = [self._tokenize_and_validate(p, add_special_tokens) for p in prompt_list]
        if not validated:
            return []
        return self._run_requests(validated, params_list, use_tqdm)

    def chat(
        self,
        messages: Union[list[dict[str, Any]], list[list[dict[str, Any]]]],
        sampling_params: Optional[Union[SamplingParams, list[SamplingParams]]] = None,
        use_tqdm: bool = True,
        chat_template: Optional[str] = None,
        add_generation_prompt: bool = True,
        chat_template_kwargs: Optional[dict[str, Any]] = None,
    ) -> list[RequestOutput]:
        """Generate replies to one conversation or a list of conversations.

        Each conversation is rendered with the model's chat template (or `chat_template`)
        and tokenized without adding special tokens, since the template writes them. As in
        vLLM, a message's content may be a string, a list of text parts (joined by newlines)
        or None (rendered as an empty string).
        """
        conversations = messages if messages and isinstance(messages[0], list) else [messages]
        tokenizer = self.get_tokenizer()
        prompts = [
            {
                "prompt_token_ids": tokenizer.apply_chat_template(
                    json.loads(_C.parse_chat_messages(json.dumps(conversation))),
                    chat_template=chat_template,
                    add_generation_prompt=add_generation_prompt,
                    tokenize=True,
                    **(chat_template_kwargs or {}),
                )
            }
            for conversation in conversations
        ]
        return self.generate(prompts, sampling_params, use_tqdm=use_tqdm)

    # Prompt parsing and validation.

    @staticmethod
    def _parse_prompts(prompts: Any) -> list[Any]:
        if isinstance(prompts, (str, dict)):
            return [prompts]
        if isinstance(prompts, Sequence):
            # A flat list of ints is one token prompt; anything else is a list of prompts.
            if len(prompts) > 0 and all(isinstance(t, int) for t in prompts):
                return [list(prompts)]
            return list(prompts)
        raise TypeError(
            "prompts must be a string, a list of token ids, a dict with 'prompt' or "
            f"'prompt_token_ids', or a list of those; got {type(prompts).__name__}"
        )

    def _tokenize_and_validate(self, prompt: Any, add_special_tokens: bool) -> _Prompt:
        if isinstance(prompt, str):
            text, token_ids = prompt, self._tokenizer.encode(prompt, add_special_tokens)
        elif isinstance(prompt, dict) and "prompt_token_ids" in prompt:
            text, token_ids = prompt.get("prompt"), list(prompt["prompt_token_ids"])
        elif isinstance(prompt, dict) and "prompt" in prompt:
            text = prompt["prompt"]
            if not isinstance(text, str):
                raise TypeError(f"'prompt' must be a string, got {type(text).__name__}")
            token_ids = self._tokenizer.encode(text, add_special_tokens)
        elif isinstance(prompt, dict):
            raise ValueError(
                f"A dict prompt needs a 'prompt' or 'prompt_token_ids' key, got keys "
                f"{sorted(prompt)}"
            )
        elif isinstance(prompt, Sequence) and all(isinstance(t, int) for t in prompt):
            text, token_ids = None, list(prompt)
        else:
            raise TypeError(
                f"Each prompt must be a string, a list of token ids or a dict, got "
                f"{type(prompt).__name__}: {prompt!r}"
            )

        # Messages as in vLLM's input processor (_validate_model_input).
        if not token_ids:
            raise ValueError("The decoder prompt cannot be empty")
        if not all(isinstance(t, int) for t in token_ids):
            raise TypeError(f"prompt_token_ids must contain only integers, got {token_ids!r}")
        vocab_size = self._tokenizer.vocab_size
        out_of_vocab = [t for t in token_ids if t < 0 or t >= vocab_size]
        if out_of_vocab:
            raise ValueError(f"Token id {out_of_vocab[0]} is out of vocabulary")
        if len(token_ids) > self.max_model_len:
            raise ValueError(
                f"The decoder prompt (length {len(token_ids)}) is longer than the maximum "
                f"model length of {self.max_model_len}. Make sure that `max_model_len` is no "
                "smaller than the number of text tokens."
            )
        return _Prompt(text, token_ids)

    def _validate_params(self, params: SamplingParams) -> None:
        # The checks vLLM makes against the model config (SamplingParams.verify).
        vocab_size = self._tokenizer.vocab_size
        if params.logprobs:
            num_logprobs = vocab_size if params.logprobs == -1 else params.logprobs
            if num_logprobs > MAX_LOGPROBS:
                raise ValueError(
                    f"Requested sample logprobs of {num_logprobs}, which is greater than max "
                    f"allowed: {MAX_LOGPROBS}"
                )
        invalid = [t for t in params.stop_token_ids if t < 0 or t >= vocab_size]
        if invalid:
            raise ValueError(
                f"token_id(s) {invalid} in stop_token_ids contain out-of-vocab token ids. "
                f"Vocabulary size: {vocab_size}"
            )

    # Running requests.

    def _run_requests(
        self,
        prompts: list[_Prompt],
        params_list: list[SamplingParams],
        use_tqdm: Union[bool, Callable[..., tqdm]],
    ) -> list[RequestOutput]:
        engine_params = [params._to_engine() for params in params_list]
        request_ids = [str(next(self.request_counter)) for _ in prompts]
        by_id = {
            request_id: (prompt, params)
            for request_id, prompt, params in zip(request_ids, prompts, params_list)
        }

        added: list[str] = []
        try:
            for request_id, prompt, params in zip(request_ids, prompts, engine_params):
                self.llm_engine.add_request(request_id, None, prompt.token_ids, params)
                added.append(request_id)
            return self._collect_outputs(by_id, use_tqdm)
        except BaseException:
            # Leave the engine without requests of this call (KeyboardInterrupt included).
            if added:
                self.llm_engine.abort_request(added)
            raise

    def _collect_outputs(
        self, by_id: dict[str, tuple[_Prompt, SamplingParams]],
        use_tqdm: Union[bool, Callable[..., tqdm]],
    ) -> list[RequestOutput]:
        pending = set(by_id)
        finished: dict[str, RequestOutput] = {}
        total = sum(params.n for _, params in by_id.values())
        pbar = None
        if use_tqdm:
            tqdm_func = use_tqdm if callable(use_tqdm) else tqdm
            pbar = tqdm_func(
                total=total,
                desc="Processed prompts",
                dynamic_ncols=True,
                postfix=f"est. speed input: {0:.2f} toks/s, output: {0:.2f} toks/s",
            )
        num_input_tokens = 0
        num_output_tokens = 0

        while pending:
            engine_idle = not self.llm_engine.has_unfinished_requests()
            outputs = self.llm_engine.get_outputs(0.0 if engine_idle else _OUTPUT_WAIT_S)
            for engine_output in outputs:
                request_id = engine_output.request_id
                # Outputs of requests aborted by an earlier failed call are dropped.
                if request_id not in pending or not engine_output.finished:
                    continue
                prompt, params = by_id[request_id]
                output = request_output_from_engine(
                    engine_output, prompt.text, params.logprobs is not None
                )
                finished[request_id] = output
                pending.discard(request_id)
                if pbar is not None:
                    num_samples = len(output.outputs)
                    num_input_tokens += len(prompt.token_ids) * num_samples
                    num_output_tokens += sum(len(o.token_ids) for o in output.outputs)
                    elapsed = pbar.format_dict["elapsed"] or 1e-9
                    pbar.postfix = (
                        f"est. speed input: {num_input_tokens / elapsed:.2f} toks/s, "
                        f"output: {num_output_tokens / elapsed:.2f} toks/s"
                    )
                    pbar.update(num_samples)
            if engine_idle and pending:
                raise RuntimeError(
                    f"the engine stopped without finishing requests {sorted(pending)}"
                )
        if pbar is not None:
            pbar.close()
        # Request ids are consecutive integers, so this is the order of the prompts.
        return [finished[request_id] for request_id in sorted(finished, key=int)]
