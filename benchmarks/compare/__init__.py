"""Helpers of benchmarks/compare_llama_cpp.py: GGUF facts, model preparation, runners."""
