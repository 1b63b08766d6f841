"""Mean and spread of quality-benchmark results over repeated runs (e.g. seeds).

Each run is a ``quality.json`` written by the quality benchmark (:mod:`mmgsacp.benchmarks.quality`):
``{method: {split: {"mIoU", "nIoU", "Pd", "Fa"}, ...}}``. With a reference method, each
method's mIoU and Fa are also compared with the reference *within each run* (same seed, same
data order), which removes the part of the spread the two share.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

from mmgsacp.benchmarks.quality import KEYS
from mmgsacp.utils.fileio import atomic_write_text
from mmgsacp.utils.io import InputError, write_json


def load_runs(paths: Sequence[str]) -> List[dict]:
    """Read each run's results.

    Args:
        paths: ``quality.json`` files or folders holding one.

    Returns:
        One ``{method: entry}`` dict per path.

    Raises:
        InputError: A path has no results file or it is not valid JSON.
    """
    runs = []
    for path in paths:
        file = path if path.endswith('.json') else osp.join(path, 'quality.json')
        if not osp.isfile(file):
            raise InputError(
                f'no results at {file} (run tools/benchmarks/bench_quality.py '
                f'with --work-dir {path} first)'
            )
        try:
            with open(file) as f:
                runs.append(json.load(f))
        except json.JSONDecodeError as err:
            raise InputError(f'{file} is not valid JSON ({err})') from None
    return runs


def _stats(values: List[float]) -> dict:
    sd = statistics.stdev(values) if len(values) > 1 else float('nan')
    return dict(mean=statistics.fmean(values), sd=sd, min=min(values), max=max(values))


def aggregate(
    runs: Sequence[dict],
    split: str = 'SIRST3',
    methods: Optional[Sequence[str]] = None,
    ref: Optional[str] = None,
) -> Dict:
    """Per method: ``n`` runs and, for each metric, mean / sd (sample, n - 1) / min / max.

    With ``ref``, adds ``d_mIoU`` and ``d_Fa``: statistics of (method - ref) over the runs that
    hold both. Methods without ``split`` in a run are skipped for that run.

    Args:
        runs: ``{method: {split: {metric: value}}}`` per run.
        split: Test list to summarise.
        methods: Methods to keep, in this order (default: every method, first-seen order).
        ref: Reference method for the paired differences.

    Returns:
        ``{method: {"n": int, metric: stats, ...}}``.

    Raises:
        InputError: A named method (or ``ref``) is in no run.
    """
    seen: List[str] = []
    for run in runs:
        seen += [m for m, e in run.items() if m not in seen and split in e]
    wanted = list(methods) if methods else seen
    missing = [m for m in wanted + ([ref] if ref else []) if m not in seen]
    if missing:
        raise InputError(
            f'no {split} results for {", ".join(missing)}; found: {", ".join(seen) or "none"}'
        )
    out = {}
    for method in wanted:
        rows = [run[method][split] for run in runs if split in run.get(method, {})]
        summary = dict(n=len(rows), **{k: _stats([r[k] for r in rows]) for k in KEYS})
        if ref and method != ref:
            pairs = [
                (run[method][split], run[ref][split])
                for run in runs
                if split in run.get(method, {}) and split in run.get(ref, {})
            ]
            if pairs:
                summary['n_paired'] = len(pairs)
                for k in ('mIoU', 'Fa'):
                    summary[f'd_{k}'] = _stats([a[k] - b[k] for a, b in pairs])
        out[method] = summary
    return out


def _fmt(s: dict, digits: int = 2) -> str:
    if s['sd'] != s['sd']:  # one run: no spread
        return f'{s["mean"]:.{digits}f}'
    return f'{s["mean"]:.{digits}f} ± {s["sd"]:.{digits}f}'


def markdown(summary: Dict, split: str, ref: Optional[str] = None) -> str:
    """A table: one row per method, mean ± sd of each metric (and the paired differences)."""
    head = f'| method | runs | {split} mIoU | nIoU | Pd | Fa | mIoU min–max |'
    if ref:
        head += f' mIoU − {ref} | Fa − {ref} |'
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for method, s in summary.items():
        cells = (
            [method, str(s['n'])]
            + [_fmt(s[k]) for k in KEYS]
            + [f'{s["mIoU"]["min"]:.2f}–{s["mIoU"]["max"]:.2f}']
        )
        if ref:
            cells += (
                [f'{_fmt(s["d_mIoU"])} (n={s["n_paired"]})', _fmt(s['d_Fa'])]
                if 'd_mIoU' in s
                else ['–', '–']
            )
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/aggregate_quality.py``'s work on its parsed arguments: print the
    summary table, write ``--out`` / ``--json``. Returns the exit status."""
    methods = args.methods.replace(',', ' ').split() or None
    summary = aggregate(load_runs(args.runs), args.split, methods, args.ref)
    table = markdown(summary, args.split, args.ref)
    print(table, end='')
    if args.out:
        atomic_write_text(table, args.out)
    if args.json:
        write_json(summary, args.json)
    return 0
