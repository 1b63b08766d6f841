"""Benchmarks behind ``tools/benchmarks/``: training-step time, inference throughput, the
quality table over all methods, and the batched point-to-mask targets.

The submodules are imported on use (``from mmgsacp.benchmarks.quality import ...``): they pull
in torch, MMEngine or subprocesses that ``import mmgsacp`` should not pay for.
"""
