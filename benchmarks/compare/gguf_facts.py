"""Read the facts the comparison needs from a GGUF file's header, with no dependencies.

The GGUF layout of versions 2 and 3: magic "GGUF", u32 version, u64 tensor count, u64
metadata count, the metadata key/value pairs, the tensor infos (name, u32 n_dims, u64
dims, u32 type, u64 offset), then the tensor data, aligned to general.alignment
(default 32). Tensor byte sizes are taken from the gaps
between consecutive offsets, so no table of quantization block sizes is needed.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from typing import Any, BinaryIO

_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                   10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml type ids of the tensor formats named in reports.
GGML_TYPE_NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0",
                   10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 30: "BF16"}


@dataclasses.dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGUF order: shape[0] is the contiguous (input) dimension
    type_name: str
    num_bytes: int

    @property
    def num_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclasses.dataclass
class ModelFacts:
    path: str
    architecture: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tied_embeddings: bool
    tensors: list[TensorInfo]

    @property
    def weight_bytes(self) -> int:
        """Bytes of all tensors in the file: what loading the model must keep in memory."""
        return sum(t.num_bytes for t in self.tensors)

    @property
    def decode_bytes_per_token(self) -> int:
        """Weight bytes one decode step reads: every tensor but an untied embedding table,
        of which a step reads one row only (a tied table is read whole as the LM head)."""
        return sum(t.num_bytes for t in self.tensors
                   if t.name != "token_embd.weight" or self.tied_embeddings)

    @property
    def layer_matmul_params(self) -> int:
        """Weights of the transformer blocks' matrix products (2-D tensors under blk.)."""
        return sum(t.num_elements for t in self.tensors
                   if t.name.startswith("blk.") and len(t.shape) == 2)

    @property
    def lm_head_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def main_weight_type(self) -> str:
        """The type of most block weights, e.g. Q4_1."""
        totals: dict[str, int] = {}
        for t in self.tensors:
            if t.name.startswith("blk.") and len(t.shape) == 2:
                totals[t.type_name] = totals.get(t.type_name, 0) + t.num_elements
        return max(totals, key=totals.get) if totals else "unknown"

    def kv_bytes_per_token(self, bytes_per_element: int) -> int:
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * bytes_per_element

    def flops_per_token(self, context_len: float, with_lm_head: bool) -> float:
        """Multiply-add flops (2 per weight) of one token attending to context_len tokens:
        the block matrix products, QK^T and PV, and optionally the LM head."""
        flops = 2.0 * self.layer_matmul_params
        flops += 4.0 * self.num_layers * self.num_heads * self.head_dim * context_len
        if with_lm_head:
            flops += 2.0 * self.lm_head_params
        return flops


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError(f"{f.name}: truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _read_string(f: BinaryIO) -> str:
    length = _read(f, "<Q")
    return f.read(length).decode("utf-8", errors="replace")


def _read_value(f: BinaryIO, value_type: int) -> Any:
    if value_type == _STRING:
        return _read_string(f)
    if value_type == _ARRAY:
        item_type = _read(f, "<I")
        count = _read(f, "<Q")
        if item_type in _SCALAR_FORMATS and item_type != _STRING:
            # Arrays such as the vocabulary scores are skipped, only their length is kept.
            f.seek(count * struct.calcsize(_SCALAR_FORMATS[item_type]), os.SEEK_CUR)
            return count
        return [_read_value(f, item_type) for _ in range(count)]
    if value_type not in _SCALAR_FORMATS:
        raise ValueError(f"{f.name}: unknown GGUF metadata type {value_type}")
    return _read(f, _SCALAR_FORMATS[value_type])


def read_model_facts(path: str) -> ModelFacts:
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (bad magic)")
        version = _read(f, "<I")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported (need 2 or 3)")
        num_tensors = _read(f, "<Q")
        num_metadata = _read(f, "<Q")
        metadata: dict[str, Any] = {}
        for _ in range(num_metadata):
            key = _read_string(f)
            metadata[key] = _read_value(f, _read(f, "<I"))

        raw = []
        for _ in range(num_tensors):
            name = _read_string(f)
            n_dims = _read(f, "<I")
            shape = tuple(_read(f, "<Q") for _ in range(n_dims))
            type_id = _read(f, "<I")
            offset = _read(f, "<Q")
            raw.append((name, shape, type_id, offset))
        alignment = int(metadata.get("general.alignment", 32))
        data_start = (f.tell() + alignment - 1) // alignment * alignment
    data_size = os.path.getsize(path) - data_start

    ends = sorted({offset for _, _, _, offset in raw} | {data_size})
    next_offset = {ends[i]: ends[i + 1] for i in range(len(ends) - 1)}
    tensors = [TensorInfo(name, shape, GGML_TYPE_NAMES.get(type_id, f"type{type_id}"),
                          next_offset[offset] - offset)
               for name, shape, type_id, offset in raw]

    arch = metadata.get("general.architecture", "unknown")
    hidden = int(metadata.get(f"{arch}.embedding_length", 0))
    num_heads = int(metadata.get(f"{arch}.attention.head_count", 0))
    num_kv_heads = metadata.get(f"{arch}.attention.head_count_kv", num_heads)
    if isinstance(num_kv_heads, list):  # per-layer counts in some architectures
        num_kv_heads = max(num_kv_heads)
    head_dim = int(metadata.get(f"{arch}.attention.key_length", hidden // max(num_heads, 1)))
    names = {t.name for t in tensors}
    embedding = next((t for t in tensors if t.name == "token_embd.weight"), None)
    vocab = embedding.shape[1] if embedding is not None and len(embedding.shape) == 2 else 0
    return ModelFacts(
        path=path,
        architecture=arch,
        num_layers=int(metadata.get(f"{arch}.block_count", 0)),
        hidden_size=hidden,
        num_heads=num_heads,
        num_kv_heads=int(num_kv_heads),
        head_dim=head_dim,
        vocab_size=vocab,
        tied_embeddings="output.weight" not in names,
        tensors=tensors,
    )
