"""vLLM in C++: the `vllm` Python package with vLLM's offline API.

    from vllm import LLM, SamplingParams
    llm = LLM(model="/path/to/model.gguf")
    outputs = llm.generate(["Hello, my name is"], SamplingParams(temperature=0.8))
"""

try:
    from vllm._version import __version__
except ImportError:  # running from a source tree without an installed build
    __version__ = "0.0.0+unknown"

from vllm.engine.arg_utils import EngineArgs
from vllm.entrypoints.llm import LLM
from vllm.logprobs import Logprob
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.sampling_params import RequestOutputKind, SamplingParams

__all__ = [
    "__version__",
    "CompletionOutput",
    "EngineArgs",
    "LLM",
    "Logprob",
    "RequestOutput",
    "RequestOutputKind",
    "SamplingParams",
]
