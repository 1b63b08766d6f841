"""Analyses behind ``tools/analysis_tools/``: threshold sweeps and their Pareto comparison,
seed aggregation of benchmark results, pseudo-label and crop analyses, and drift curves.

The submodules are imported on use (``from mmgsacp.analysis.pareto import ...``): they pull in
matplotlib and the datasets, which ``import mmgsacp`` should not pay for.
"""
