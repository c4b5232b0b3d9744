"""vLLM's benchmark commands: `vllm bench latency`, `vllm bench throughput` and
`vllm bench serve`, with vLLM's option names and report layout.

Datasets are made locally (random token ids, or a generated ShareGPT-style sample), so no
benchmark downloads anything.
"""
