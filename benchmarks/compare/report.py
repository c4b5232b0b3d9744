"""Turn the comparison's medians into target rows with PASS or MISS, and print them."""

from __future__ import annotations

import argparse
from typing import Any, Optional

# Targets of the comparison: minimum ratios, minimum fractions of a hardware limit, and
# the memory headroom.
SINGLE_STREAM_RATIO = 1.2
BATCH_RATIO_LLAMA = 3.0
BATCH_RATIO_HF = 10.0
DECODE_BANDWIDTH_FRACTION = 0.60
COMPUTE_FRACTION = 0.40
MEMORY_HEADROOM = 1.15

# The arithmetic llama.cpp's CPU backend uses for a weight type on a CPU with AVX-512
# BF16 and VNNI: quantized weights meet activations quantized to 8 bits in integer dot
# products, BF16 weights use the BF16 dot instruction. On an AMX CPU its AMX buffer type
# takes the types below. Shown for context only.
LLAMA_COMPUTE_TYPE = {"F32": "fp32_fma", "F16": "fp32_fma", "BF16": "bf16_dot"}
LLAMA_AMX_TYPES = {"Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"}
# Weight types whose matrices the engine multiplies on three int8 slices of the activations
# (row groups): with AMX tiles on an AMX CPU, with vpdpbusd on a VNNI CPU. The others use
# float32 FMAs.
ENGINE_ROW_GROUP_TYPES = {"Q4_0", "Q4_1", "Q5_0", "Q8_0", "Q4_K"}


def _result(value: Optional[float], goal: float, missing: str) -> str:
    if value is None:
        return missing
    return "PASS" if value >= goal else "MISS"


def _ratio(ours: Optional[float], theirs: Optional[float]) -> Optional[float]:
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def _peak(limits: dict[str, Any], compute_type: str) -> Optional[float]:
    # Three int8 products per multiply-add of a float32 activation.
    slices = 3 if compute_type.endswith("_3slice") else 1
    entry = limits.get(f"{compute_type.removesuffix('_3slice')}_gops")
    return entry["best"] * 1e9 / slices if entry else None


def engine_compute_type(model: dict[str, Any], limits: dict[str, Any],
                        args: argparse.Namespace) -> str:
    """Return the arithmetic whose peak divides the engine's flops percentages.

    "auto" picks the three-slice int8 peak (AMX where measured, else VNNI) for a model whose
    main weight type runs in row groups, else fp32. A mixed model such as Gemma 3 Q4_K_M is
    then measured against its faster arithmetic."""
    if args.engine_compute_type != "auto":
        return args.engine_compute_type
    if model["main_weight_type"] in ENGINE_ROW_GROUP_TYPES:
        for name in ("int8_amx", "int8_vnni"):
            if limits.get(f"{name}_gops"):
                return f"{name}_3slice"
    return "fp32_fma"


def llama_compute_type(model: dict[str, Any], limits: dict[str, Any]) -> str:
    """Return the arithmetic llama.cpp uses for the model's main weight type."""
    if model["main_weight_type"] in LLAMA_AMX_TYPES and limits.get("int8_amx_gops"):
        return "int8_amx"
    return LLAMA_COMPUTE_TYPE.get(model["main_weight_type"], "int8_vnni")


def _missing_reason(model: dict[str, Any], engine_key: str) -> str:
    load_error = model["errors"].get("engine_load")
    if load_error:
        return "unsupported" if "support" in load_error.lower() else "load failed"
    if model["errors"].get(engine_key):
        return "failed"
    return "not measured"


def _model_rows(model: dict[str, Any], limits: dict[str, Any],
                args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    label = model["label"]

    def add(target: str, ours, reference, value, goal, result, unit="", note="") -> None:
        rows.append({"model": label, "target": target, "engine": ours,
                     "reference": reference, "value": value, "goal": goal, "unit": unit,
                     "result": result, "note": note})

    def missing(engine_key: str, reference_key: str, reference_load: str = "") -> str:
        if model["errors"].get("engine_load") or model["errors"].get(engine_key):
            return _missing_reason(model, engine_key)
        if reference_load and model["errors"].get(reference_load):
            return "reference unsupported"
        if model["errors"].get(reference_key) or model.get(reference_key) is None:
            return "reference failed"
        return "not measured"

    pp, tg = args.prompt_tokens, args.gen_tokens
    ratio = _ratio(model["engine_pp"], model["llama_pp"])
    add(f"pp{pp} tokens/s vs llama.cpp", model["engine_pp"], model["llama_pp"], ratio,
        SINGLE_STREAM_RATIO, _result(ratio, SINGLE_STREAM_RATIO,
                                     missing("engine_pp", "llama_bench")), "x")
    ratio = _ratio(model["engine_tg"], model["llama_tg"])
    add(f"tg{tg} tokens/s vs llama.cpp", model["engine_tg"], model["llama_tg"], ratio,
        SINGLE_STREAM_RATIO, _result(ratio, SINGLE_STREAM_RATIO,
                                     missing("engine_tg", "llama_bench")), "x")

    batch = f"batch {args.batch_prompts}x({args.batch_input_len}+{args.batch_output_len})"
    ratio = _ratio(model["engine_batch"], model["llama_batch"])
    add(f"{batch} tokens/s vs llama.cpp", model["engine_batch"], model["llama_batch"], ratio,
        BATCH_RATIO_LLAMA, _result(ratio, BATCH_RATIO_LLAMA,
                                   missing("engine_batch", "llama_batch")), "x",
        f"llama-batched-bench -ub {model['llama_best_ubatch']}")
    ratio = _ratio(model["engine_batch"], model["hf_batch"])
    hf_missing = ("not run" if args.hf_repetitions == 0
                  else missing("engine_batch", "hf_batch", "hf_load"))
    add(f"{batch} tokens/s vs HF transformers", model["engine_batch"], model["hf_batch"],
        ratio, BATCH_RATIO_HF, _result(ratio, BATCH_RATIO_HF, hf_missing), "x")

    bandwidth = limits["read_bandwidth_gbs"]["best"] * 1e9

    def bandwidth_fraction(rate: Optional[float]) -> Optional[float]:
        return None if rate is None else model["decode_bytes_per_token"] * rate / bandwidth

    fraction = bandwidth_fraction(model["engine_tg"])
    llama_fraction = bandwidth_fraction(model["llama_tg"])
    add("decode: weight bytes x tokens/s / read bandwidth", fraction, llama_fraction,
        fraction, DECODE_BANDWIDTH_FRACTION,
        _result(fraction, DECODE_BANDWIDTH_FRACTION, _missing_reason(model, "engine_tg")),
        "%", f"{model['decode_bytes_per_token'] / 1e6:.1f} MB/token; reference: llama.cpp")

    engine_type = engine_compute_type(model, limits, args)
    engine_peak = _peak(limits, engine_type)
    llama_type = llama_compute_type(model, limits)
    llama_peak = _peak(limits, llama_type)

    def compute_fraction(rate: Optional[float], flops_per_token: float,
                         peak: Optional[float]) -> Optional[float]:
        if rate is None or peak is None:
            return None
        return rate * flops_per_token / peak

    fraction = compute_fraction(model["engine_pp"], model["prefill_flops_per_token"],
                                engine_peak)
    add(f"prefill pp{pp}: flop/s / peak", fraction,
        compute_fraction(model["llama_pp"], model["prefill_flops_per_token"], llama_peak),
        fraction, COMPUTE_FRACTION,
        _result(fraction, COMPUTE_FRACTION, _missing_reason(model, "engine_pp")), "%",
        f"engine peak: {engine_type}; llama.cpp peak: {llama_type}")
    fraction = compute_fraction(model["engine_batch"], model["batch_flops_per_token"],
                                engine_peak)
    add(f"{batch}: flop/s / peak", fraction,
        compute_fraction(model["llama_batch"], model["batch_flops_per_token"], llama_peak),
        fraction, COMPUTE_FRACTION,
        _result(fraction, COMPUTE_FRACTION, _missing_reason(model, "engine_batch")), "%",
        f"engine peak: {engine_type}; llama.cpp peak: {llama_type}")

    loaded = model["engine_loaded"]
    budget = (model["weight_bytes"] + model["kv_budget_bytes"]) * MEMORY_HEADROOM
    increase = None
    if loaded.get("event") == "loaded" and model["engine_rss_peak_kib"] is not None:
        increase = (model["engine_rss_peak_kib"] - loaded["rss_before_kib"]) * 1024
    add("memory: (weights + KV) x 1.15 / peak RSS increase",
        None if increase is None else increase / 1e6, budget / 1e6,
        None if increase is None else budget / max(increase, 1), 1.0,
        _result(None if increase is None else budget / max(increase, 1), 1.0,
                _missing_reason(model, "engine_batch")), "MB",
        f"weights {model['weight_bytes'] / 1e6:.1f} MB, "
        f"KV {model['kv_budget_bytes'] / 1e6:.1f} MB")
    return rows


def build_rows(models: list[dict[str, Any]], limits: dict[str, Any],
               args: argparse.Namespace, accuracy: Optional[bool]) -> list[dict[str, Any]]:
    rows = []
    for model in models:
        rows.extend(_model_rows(model, limits, args))
    rows.append({"model": "all", "target": "accuracy: goldens with every fast path",
                 "engine": None, "reference": None, "value": None, "goal": None, "unit": "",
                 "result": ("not measured" if accuracy is None
                            else "PASS" if accuracy else "MISS"),
                 "note": args.goldens_command or "pass --goldens-command to check"})
    return rows


def _format(value: Optional[float], unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.1f}"


def print_rows(rows: list[dict[str, Any]], machine: dict[str, Any], limits: dict[str, Any],
               llama_version: str) -> None:
    print(f"machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
          f"ISA {' '.join(machine['isa'])}, load average {' '.join(machine['loadavg_start'])}"
          f" at start, {' '.join(machine.get('loadavg_end', []))} at end")
    print("llama.cpp: " + llama_version.strip().replace("\n", "; "))
    peaks = ", ".join(f"{name} {limits[f'{name}_gops']['best']:.1f} G/s"
                      for name in ("fp32_fma", "bf16_dot", "int8_vnni", "int8_amx")
                      if limits.get(f"{name}_gops"))
    shares = [entry["min_cpu_share"] for entry in limits.values()
              if isinstance(entry, dict) and "min_cpu_share" in entry]
    print(f"limits ({limits['threads']} threads): read bandwidth "
          f"{limits['read_bandwidth_gbs']['best']:.2f} GB/s; peak {peaks}; "
          f"min CPU share {min(shares, default=1.0):.2f} (below 0.95: the CPUs were shared)")
    header = ("model", "target", "this engine", "reference", "ratio", "goal", "result")
    table = [header]
    for row in rows:
        unit = row["unit"]
        shown_unit = unit if unit in ("%", "MB") else ""
        ratio = "-" if row["value"] is None else (
            f"{100 * row['value']:.1f}%" if unit == "%" else f"{row['value']:.2f}x")
        goal = "-" if row["goal"] is None else (
            f">= {100 * row['goal']:.0f}%" if unit == "%" else
            ("<= budget" if unit == "MB" else f">= {row['goal']:.1f}x"))
        table.append((row["model"], row["target"], _format(row["engine"], shown_unit),
                      _format(row["reference"], shown_unit), ratio, goal, row["result"]))
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
