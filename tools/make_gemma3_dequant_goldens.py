#!/usr/bin/env python3
"""Record gguf-py's dequantization of a few Gemma 3 270M Q4_K_M tensors for the kernel tests.

The script covers tensors of every block type the file holds (Q5_0, Q4_K, Q6_K, Q8_0).
For each it writes the first 256 values (one K-quant super-block, eight Q5_0/Q8_0 blocks)
of the first, a middle and the last row, dequantized to float32 by gguf-py. It adds the
sum and sum of absolute values of the whole tensor in float64. tests/unit/quant_kernels_test.cpp
dequantizes the same tensors with our kernels and compares.

Run it with the reference venv (gguf 0.19.0) after tools/fetch_gemma3.sh:

    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_gemma3_dequant_goldens.py
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

import gguf
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "goldens" / "gemma3_270m_dequant.json"
MODEL_FILE_NAME = "gemma-3-270m-q4_k_m.gguf"
NUM_VALUES = 256

# The token embedding (Q8_0, 262144 rows) is left out of the whole-tensor sums for its size;
# blk.0.attn_v is a Q8_0 tensor of ordinary size.
TENSORS = [
    "blk.0.attn_q.weight",       # Q5_0
    "blk.0.attn_output.weight",  # Q4_K
    "blk.0.ffn_down.weight",     # Q6_K
    "blk.0.attn_v.weight",       # Q8_0
    "blk.17.ffn_down.weight",    # Q6_K, last layer
    "blk.17.attn_output.weight", # Q4_K, last layer
]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_output(output: dict) -> str:
    """Format the JSON with one line per field and per row of values, for readable diffs."""
    def dump(value) -> str:
        return json.dumps(value, separators=(",", ":"))

    lines = ["{", ' "metadata": ' + json.dumps(output["metadata"], indent=2).replace("\n", "\n ")
             + ",", ' "tensors": [']
    for index, record in enumerate(output["tensors"]):
        fields = []
        for key, value in record.items():
            if key == "values":
                rows = ",\n".join("    " + dump(row) for row in value)
                fields.append(f'   "{key}": [\n{rows}\n   ]')
            else:
                fields.append(f'   "{key}": {dump(value)}')
        closing = "  }," if index + 1 < len(output["tensors"]) else "  }"
        lines += ["  {", ",\n".join(fields), closing]
    lines += [" ]", "}", ""]
    return "\n".join(lines)


def main() -> None:
    cache_root = os.environ.get("VLLM_CACHE_ROOT", os.path.expanduser("~/.cache/vllm"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path,
                        default=Path(cache_root) / "models" / MODEL_FILE_NAME,
                        help="path of the Gemma 3 270M Q4_K_M GGUF file (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON file to write (default: %(default)s)")
    args = parser.parse_args()

    reader = gguf.GGUFReader(args.model)
    by_name = {tensor.name: tensor for tensor in reader.tensors}
    records = []
    for name in TENSORS:
        tensor = by_name[name]
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        rows, cols = values.shape
        sample_rows = [0, rows // 2 + 1, rows - 1]
        records.append({
            "name": name,
            "type": tensor.tensor_type.name,
            "rows": rows,
            "cols": cols,
            "sample_rows": sample_rows,
            # [len(sample_rows), NUM_VALUES]: values[row, 0:NUM_VALUES]
            "values": [[float(v) for v in values[row, :NUM_VALUES]] for row in sample_rows],
            "sum": float(values.astype(np.float64).sum()),
            "sum_abs": float(np.abs(values.astype(np.float64)).sum()),
        })

    output = {
        "metadata": {
            "model_file": MODEL_FILE_NAME,
            "model_sha256": sha256_of(args.model),
            "gguf_version": importlib.metadata.version("gguf"),
            "command": "HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_gemma3_dequant_goldens.py",
        },
        "tensors": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(format_output(output))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
