#!/usr/bin/env python3
"""Compare this engine with llama.cpp and HF transformers on the same GGUF files.

For each model file (SmolLM2-135M Q4_1, Q8_0 and BF16, Gemma 3 270M Q4_K_M):

  single stream   pp512 and tg128: llama-bench -p 512 -n 128 -t THREADS -r RUNS vs this
                  engine's LLM API (a 512-token prompt with max_tokens=1; 128 greedy tokens
                  after a 1-token prompt), each the mean of --single-stream-runs runs
  batch           64 requests x (128 prompt + 128 output tokens), offline:
                  llama-batched-bench -npp 128 -ntg 128 -npl 64, one parallel sequence per
                  request, with each --llama-ubatch value in the first repetition and
                  the best one after that. This engine runs one
                  LLM.generate() call on 64 prompts. HF transformers runs generate() on
                  the model dequantized to float32.
  limits          decode: weight bytes per token x tokens/s over the streaming-read
                  bandwidth; prefill and batch: flops/s over the peak of the compute type
                  used; both measured by benchmarks/microbench on the same cores
  memory          resident memory increase from before the engine loads the model vs
                  (weight bytes + KV cache budget) x 1.15

Engines alternate within each repetition (the first engine flips every repetition) and the
median over repetitions is reported. Prints every target with PASS or MISS, writes JSON.
Rows for a model that an engine cannot load read "unsupported" instead of failing the run.

llama.cpp is built by tools/build_llama_cpp.sh; models, builds and downloads are cached
under ~/.cache/vllm/llama.cpp. This engine is timed through the Python package installed
in --engine-python (default: the repository's .venv), HF through --hf-python.

Usage:
    python3 benchmarks/compare_llama_cpp.py --output-json results.json
    python3 benchmarks/compare_llama_cpp.py --quick        # tiny sizes, to try the script
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from compare.gguf_facts import ModelFacts, read_model_facts  # noqa: E402
from compare.models import prepare_models  # noqa: E402
from compare.report import build_rows, print_rows  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("VLLM_LLAMA_CPP_CACHE",
                                    Path.home() / ".cache/vllm/llama.cpp"))


def log(message: str) -> None:
    print(f"[compare] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="q4_1,q8_0,bf16,gemma3",
                        help="comma-separated subset of q4_1, q8_0, bf16, gemma3 "
                             "(default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="repetitions of every llama.cpp and engine measurement "
                             "(default: %(default)s)")
    parser.add_argument("--single-stream-runs", type=int, default=3,
                        help="runs of pp512 and tg128 per repetition, averaged (llama-bench "
                             "-r), which steadies them on a shared host (default: %(default)s)")
    parser.add_argument("--hf-repetitions", type=int, default=1,
                        help="repetitions of the HF batch, 0 to skip HF (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="compute threads of every engine and the microbenchmarks "
                             "(default: the CPU count, %(default)s)")
    parser.add_argument("--prompt-tokens", type=int, default=512,
                        help="single-stream prompt length, pp (default: %(default)s)")
    parser.add_argument("--gen-tokens", type=int, default=128,
                        help="single-stream generated tokens, tg (default: %(default)s)")
    parser.add_argument("--batch-prompts", type=int, default=64,
                        help="requests in the batch scenario (default: %(default)s)")
    parser.add_argument("--batch-input-len", type=int, default=128,
                        help="prompt tokens per batch request (default: %(default)s)")
    parser.add_argument("--batch-output-len", type=int, default=128,
                        help="output tokens per batch request (default: %(default)s)")
    parser.add_argument("--llama-ubatch", default="256,512",
                        help="llama-batched-bench -ub values to try; the best median counts "
                             "(default: %(default)s)")
    parser.add_argument("--engine-compute-type", default="auto",
                        choices=["auto", "fp32_fma", "bf16_dot", "int8_vnni", "int8_vnni_3slice",
                                 "int8_amx", "int8_amx_3slice"],
                        help="arithmetic this engine's matrix products use, whose peak the "
                             "flops percentages divide by; the _3slice types are the int8 peak "
                             "over 3. auto picks int8_amx_3slice for Q4_0, Q4_1, Q5_0, Q8_0 and "
                             "Q4_K models on an AMX CPU, int8_vnni_3slice on a VNNI CPU, and "
                             "fp32_fma otherwise (default: %(default)s)")
    parser.add_argument("--engine-python", default=str(REPO / ".venv/bin/python"),
                        help="Python with the installed vllm package (default: %(default)s)")
    parser.add_argument("--hf-python", default="/tmp/refvenv/bin/python",
                        help="Python with torch, transformers and gguf (default: %(default)s)")
    parser.add_argument("--goldens-command", default=None,
                        help="shell command that checks the goldens, e.g. "
                             "'ctest --test-dir build -R goldens'; its exit status is the "
                             "accuracy row (default: the row is not measured)")
    parser.add_argument("--llama-bin", type=Path, default=None,
                        help="directory with llama-bench, llama-batched-bench and "
                             "llama-quantize (default: build them with "
                             "tools/build_llama_cpp.sh)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="builds, downloads and model files (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one repetition, to check that the script runs")
    parser.add_argument("--output-json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.hf_repetitions = 1, min(args.hf_repetitions, 1)
        args.single_stream_runs = 1
        args.prompt_tokens, args.gen_tokens = 32, 8
        args.batch_prompts, args.batch_input_len, args.batch_output_len = 4, 16, 8
        args.llama_ubatch = "512"
    return args


# ---------------------------------------------------------------------------- set-up


def build_llama_cpp(cache: Path) -> Path:
    env = dict(os.environ, VLLM_LLAMA_CPP_CACHE=str(cache))
    result = subprocess.run(["bash", str(REPO / "tools/build_llama_cpp.sh")], env=env,
                            check=True, stdout=subprocess.PIPE, text=True)
    return Path(result.stdout.strip().splitlines()[-1])


def measure_hardware_limits(cache: Path, threads: int, quick: bool) -> dict[str, Any]:
    # One build directory per checkout: CMake refuses a build directory that another source
    # tree configured, and the cache is shared by every clone on the machine.
    source = REPO / "benchmarks/microbench"
    tag = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:8]
    build = cache / f"microbench-build-{tag}"
    subprocess.run(["cmake", "-S", str(source), "-B", str(build),
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build), "-j", "2"], check=True,
                   stdout=subprocess.DEVNULL)
    command = [str(build / "hardware_limits"), "--threads", str(threads)]
    if quick:
        command += ["--repetitions", "3", "--read-mib", "256", "--seconds", "0.1"]
    log("measuring read bandwidth and peak compute: " + " ".join(command))
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    limits = json.loads(result.stdout)
    limits["command"] = " ".join(command)
    return limits


# ------------------------------------------------------------------------ llama.cpp


def run_llama_bench(bin_dir: Path, model: str, args: argparse.Namespace) -> dict[str, float]:
    command = [str(bin_dir / "llama-bench"), "-m", model, "-p", str(args.prompt_tokens),
               "-n", str(args.gen_tokens), "-t", str(args.threads),
               "-r", str(args.single_stream_runs), "-o", "json"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"llama-bench failed: {result.stderr.strip()[-500:]}")
    rates: dict[str, float] = {}
    for entry in json.loads(result.stdout):
        key = "pp" if entry["n_gen"] == 0 else "tg"
        rates[key] = float(entry["avg_ts"])
    return rates


def llama_batched_command(bin_dir: Path, model: str, args: argparse.Namespace,
                          ubatch: int) -> list[str]:
    context = args.batch_prompts * (args.batch_input_len + args.batch_output_len)
    return [str(bin_dir / "llama-batched-bench"), "-m", model, "-c", str(context),
            "-b", "2048", "-ub", str(ubatch), "-npp", str(args.batch_input_len),
            "-ntg", str(args.batch_output_len), "-npl", str(args.batch_prompts),
            "-t", str(args.threads), "-tb", str(args.threads), "--output-format", "jsonl"]


def run_llama_batched(bin_dir: Path, model: str, args: argparse.Namespace,
                      ubatch: int) -> dict[str, float]:
    command = llama_batched_command(bin_dir, model, args, ubatch)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"llama-batched-bench failed: {result.stdout.strip()[-500:]}")
    for line in result.stdout.splitlines():
        if line.startswith("{") and '"speed"' in line:
            entry = json.loads(line)
            return {"tokens_per_s": entry["speed"], "seconds": entry["t"],
                    "prefill_seconds": entry["t_pp"], "decode_seconds": entry["t_tg"],
                    "decode_tokens_per_s": entry["speed_tg"]}
    raise RuntimeError("llama-batched-bench printed no result line (context too small?)")


# ---------------------------------------------------------------- Python-side engines


class Runner:
    """Child process running compare/engine_runner.py or hf_runner.py in another Python,
    driven by one JSON line per command."""

    def __init__(self, name: str, python: str, module: str, extra: list[str]) -> None:
        self.name = name
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"compare_{name}.log"
        self.process = subprocess.Popen(
            # The runner starts in benchmarks/, so a relative interpreter path is made
            # absolute here (abspath, not resolve: a venv's python is a symlink).
            [os.path.abspath(python), "-m", module, *extra], cwd=REPO / "benchmarks",
            env=dict(os.environ, HF_HUB_OFFLINE="1"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log_path.open("w"), text=True)
        self.loaded = self._read()

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            return {"event": "error",
                    "message": f"{self.name} exited; see {self.log_path}"}
        return json.loads(line)

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        reply = self._read()
        if "error" in reply or reply.get("event") == "error":
            raise RuntimeError(reply.get("error") or reply.get("message"))
        return reply

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write('{"op": "quit"}\n')
                self.process.stdin.flush()
                self.process.wait(timeout=60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def kv_budget_bytes(facts: ModelFacts, args: argparse.Namespace) -> int:
    """KV cache for every batch request at full length (and at least one request of
    max_model_len), float32 (the engine's KV dtype), plus 10% for block rounding."""
    tokens = max(args.batch_prompts * (args.batch_input_len + args.batch_output_len),
                 max_model_len(args))
    return int(tokens * facts.kv_bytes_per_token(4) * 1.1)


def batch_flops_per_token(facts: ModelFacts, args: argparse.Namespace) -> float:
    """Average flops per token of the batch scenario: prompt tokens skip the LM head (only
    a prompt's last token needs logits), output tokens attend to a longer context."""
    prompt = facts.flops_per_token(args.batch_input_len / 2, False)
    output = facts.flops_per_token(args.batch_input_len + args.batch_output_len / 2, True)
    return ((args.batch_input_len * prompt + args.batch_output_len * output)
            / (args.batch_input_len + args.batch_output_len))


def max_model_len(args: argparse.Namespace) -> int:
    needed = max(args.prompt_tokens + 1, args.gen_tokens + 2,
                 args.batch_input_len + args.batch_output_len)
    return (needed + 255) // 256 * 256


# ------------------------------------------------------------------------ one model


def median_of(samples: list[dict[str, float]], key: str) -> Optional[float]:
    values = [s[key] for s in samples if key in s]
    return statistics.median(values) if values else None


def mean_of_runs(engine, command: dict[str, Any], runs: int) -> dict[str, Any]:
    """Runs an engine command `runs` times. Returns the mean tokens/s, as llama-bench -r
    reports it, and every run's rate."""
    rates = [engine.ask(command)["tokens_per_s"] for _ in range(runs)]
    return {"op": command["op"], "tokens_per_s": sum(rates) / len(rates), "runs": rates}


def attempt(results: dict[str, Any], key: str, action) -> None:
    """Runs action() and appends its result to results[key]. An error is logged and kept
    in results["errors"][key] (the last one per key), and the run goes on."""
    try:
        results.setdefault(key, []).append(action())
    except Exception as error:  # every failure of one engine becomes a row note
        log(f"{key}: {error}")
        results.setdefault("errors", {})[key] = str(error)


def compare_model(model, bin_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    facts = read_model_facts(model.path)
    log(f"{model.label}: {facts.architecture}, {facts.num_layers} layers, main type "
        f"{facts.main_weight_type}, {facts.weight_bytes / 1e6:.1f} MB of weights")
    kv_bytes = kv_budget_bytes(facts, args)
    engine = Runner("engine", args.engine_python, "compare.engine_runner",
                    ["--model", model.path, "--kv-cache-memory-bytes", str(kv_bytes),
                     "--max-num-seqs", str(args.batch_prompts),
                     "--max-model-len", str(max_model_len(args))])
    hf = None
    if args.hf_repetitions > 0:
        hf = Runner("hf", args.hf_python, "compare.hf_runner",
                    ["--model", model.path, "--threads", str(args.threads)])
    engine_ok = engine.loaded.get("event") == "loaded"
    hf_ok = hf is not None and hf.loaded.get("event") == "loaded"
    results: dict[str, Any] = {"errors": {}}
    if not engine_ok:
        results["errors"]["engine_load"] = engine.loaded.get("message")
    if hf is not None and not hf_ok:
        results["errors"]["hf_load"] = hf.loaded.get("message")

    ubatches = [int(u) for u in args.llama_ubatch.split(",")]
    batch_command = {"op": "batch", "num_prompts": args.batch_prompts,
                     "input_len": args.batch_input_len, "output_len": args.batch_output_len}

    def run_llama(rep: int) -> None:
        attempt(results, "llama_bench", lambda: run_llama_bench(bin_dir, model.path, args))
        # Every -ub value runs in the first repetition, later ones repeat only the best.
        tried = ubatches if rep == 0 else [summarize(results, ubatches)["llama_best_ubatch"]]
        for ubatch in tried:
            if ubatch is None:
                continue
            attempt(results, f"llama_batched_ub{ubatch}",
                    lambda: run_llama_batched(bin_dir, model.path, args, ubatch))

    def run_engine(rep: int) -> None:
        if not engine_ok:
            return
        attempt(results, "engine_pp",
                lambda: mean_of_runs(engine, {"op": "pp", "tokens": args.prompt_tokens},
                                     args.single_stream_runs))
        attempt(results, "engine_tg",
                lambda: mean_of_runs(engine, {"op": "tg", "tokens": args.gen_tokens},
                                     args.single_stream_runs))
        attempt(results, "engine_batch", lambda: engine.ask(batch_command))

    try:
        for rep in range(args.repetitions):
            log(f"{model.label}: repetition {rep + 1}/{args.repetitions}")
            order = [run_llama, run_engine] if rep % 2 == 0 else [run_engine, run_llama]
            for run in order:
                run(rep)
            if hf_ok and rep < args.hf_repetitions:
                attempt(results, "hf_batch", lambda: hf.ask(batch_command))
    finally:
        engine.close()
        if hf is not None:
            hf.close()

    summary = summarize(results, ubatches)
    summary.update(label=model.label, path=model.path, origin=model.origin,
                   architecture=facts.architecture, main_weight_type=facts.main_weight_type,
                   weight_bytes=facts.weight_bytes,
                   decode_bytes_per_token=facts.decode_bytes_per_token,
                   kv_budget_bytes=kv_bytes,
                   prefill_flops_per_token=facts.flops_per_token(args.prompt_tokens / 2, False),
                   batch_flops_per_token=batch_flops_per_token(facts, args),
                   engine_loaded=engine.loaded,
                   hf_loaded=hf.loaded if hf else None, errors=results.get("errors", {}),
                   samples={k: v for k, v in results.items() if k != "errors"},
                   llama_batched_command=" ".join(llama_batched_command(
                       bin_dir, model.path, args, summary.get("llama_best_ubatch") or
                       ubatches[0])))
    return summary


def summarize(results: dict[str, Any], ubatches: list[int]) -> dict[str, Any]:
    llama_bench = results.get("llama_bench", [])
    best_ubatch, best_batched = None, None
    for ubatch in ubatches:
        rate = median_of(results.get(f"llama_batched_ub{ubatch}", []), "tokens_per_s")
        if rate is not None and (best_batched is None or rate > best_batched):
            best_ubatch, best_batched = ubatch, rate
    batch_samples = results.get("engine_batch", [])
    return {
        "llama_pp": median_of(llama_bench, "pp"),
        "llama_tg": median_of(llama_bench, "tg"),
        "llama_batch": best_batched,
        "llama_best_ubatch": best_ubatch,
        "llama_batch_decode": median_of(results.get(f"llama_batched_ub{best_ubatch}", []),
                                        "decode_tokens_per_s") if best_ubatch else None,
        "engine_pp": median_of(results.get("engine_pp", []), "tokens_per_s"),
        "engine_tg": median_of(results.get("engine_tg", []), "tokens_per_s"),
        "engine_batch": median_of(batch_samples, "tokens_per_s"),
        "engine_rss_peak_kib": max((s["rss_peak_kib"] for s in batch_samples), default=None),
        "hf_batch": median_of(results.get("hf_batch", []), "tokens_per_s"),
    }


# ---------------------------------------------------------------------------- main


def machine_description() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    flags = ""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = line
    mem_kib = 0
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    isa = [name for name in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile",
                             "amx_int8")
           if f" {name}" in flags]
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "isa": isa, "kernel": platform.release(),
            "loadavg_start": open("/proc/loadavg", encoding="ascii").read().split()[:3]}


def main() -> None:
    args = parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    machine = machine_description()
    log(f"machine: {machine}")
    if float(machine["loadavg_start"][0]) > 0.5:
        log(f"warning: load average {machine['loadavg_start'][0]} before the run; other "
            "processes share the CPUs, so every figure will read low")

    bin_dir = args.llama_bin or build_llama_cpp(args.cache)
    version_file = bin_dir.parent / "VERSION.txt"
    llama_version = version_file.read_text() if version_file.exists() else "unknown"
    limits = measure_hardware_limits(args.cache, args.threads, args.quick)
    log(f"hardware limits: {json.dumps(limits)}")
    models = prepare_models(args.cache, bin_dir / "llama-quantize", args.models.split(","))

    summaries = [compare_model(model, bin_dir, args) for model in models]

    accuracy = None
    if args.goldens_command:
        log(f"accuracy: {args.goldens_command}")
        accuracy = subprocess.run(args.goldens_command, shell=True).returncode == 0
    machine["loadavg_end"] = open("/proc/loadavg", encoding="ascii").read().split()[:3]

    rows = build_rows(summaries, limits, args, accuracy)
    print_rows(rows, machine, limits, llama_version)
    if args.output_json:
        # benchmarks/results/ is ignored by git, so a fresh checkout lacks it.
        Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.output_json, "w", encoding="utf-8") as f:
            json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "command": " ".join(sys.argv), "machine": machine,
                       "llama_cpp": llama_version, "hardware_limits": limits,
                       "settings": {k: str(v) for k, v in vars(args).items()},
                       "models": summaries, "targets": rows}, f, indent=2)
        log(f"wrote {args.output_json}")


if __name__ == "__main__":
    main()
