"""Methods compared at the same false-alarm rate, from the sweeps :mod:`.pareto` writes.

A method's fixed-threshold figures put it at one point of its own mIoU-vs-Fa curve; a method
that reports fewer false alarms may only sit further along the same trade-off as a higher
threshold would put another. Per false-alarm budget, :func:`best_per_budget` picks each sweep's
operating point with the highest metric among those within the budget.

The thresholds are chosen on the sweep's own images: this compares trade-offs, it is not a way
to pick a threshold for a test set.
"""

from __future__ import annotations

import argparse
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmgsacp.evaluation.sweep import SweepPoint, choose_operating_point
from mmgsacp.utils.io import InputError, write_json

from .pareto import read_sweep_csv
from .plotting import label_fa_axes, plot_against_fa, pyplot, save_figure, star_point


def read_sweep(path: str, min_area: int) -> List[SweepPoint]:
    """The rows of one ``pareto.csv`` (or the folder holding it) with ``min_area``, ordered by
    threshold.

    Raises:
        InputError: The file is missing, is not a sweep, or has no row with ``min_area``.
    """
    if osp.isdir(path):
        path = osp.join(path, 'pareto.csv')
    if not osp.isfile(path):
        raise InputError(f'{path} not found (write it with tools/analysis_tools/analyze_pareto.py)')
    try:
        rows = read_sweep_csv(path)
    except (KeyError, ValueError, TypeError) as err:
        raise InputError(f'{path}: not a sweep written by analyze_pareto.py ({err!r})') from err
    areas = sorted({p.min_area for p in rows})
    rows = sorted((p for p in rows if p.min_area == min_area), key=lambda p: p.threshold)
    if not rows:
        raise InputError(f'{path}: no rows with min_area {min_area} (it has {areas})')
    return rows


def sweep_label(path: str) -> str:
    """A sweep's default name: its folder, skipping ``pareto.csv`` and a ``pareto/`` folder."""
    path = osp.normpath(path)
    if osp.basename(path) == 'pareto.csv':
        path = osp.dirname(path)
    if osp.basename(path) == 'pareto':
        path = osp.dirname(path)
    return osp.basename(path)


def load_sweeps(
    paths: Sequence[str],
    min_area: int = 0,
    labels: Optional[Sequence[str]] = None,
    groups: Optional[Sequence[str]] = None,
) -> Dict[str, List[SweepPoint]]:
    """Read several sweeps under distinct names.

    Args:
        paths: ``pareto.csv`` files or folders holding one.
        min_area: Keep the rows of this min_area.
        labels: One name per sweep (default: :func:`sweep_label` of each path).
        groups: One group name per sweep (only checked for its length here).

    Returns:
        ``{label: points ordered by threshold}`` in the order of ``paths``.

    Raises:
        InputError: Wrong number of labels or groups, repeated labels, or a bad sweep.
    """
    labels = list(labels or [sweep_label(p) for p in paths])
    if len(labels) != len(paths):
        raise InputError(f'{len(labels)} --labels for {len(paths)} sweeps')
    if len(set(labels)) != len(labels):
        raise InputError(f'labels must differ, got {labels} (name them with --labels)')
    if groups is not None and len(groups) != len(paths):
        raise InputError(f'{len(groups)} --groups for {len(paths)} sweeps')
    return {label: read_sweep(p, min_area) for label, p in zip(labels, paths)}


def best_per_budget(
    curves: Dict[str, List[SweepPoint]], budgets: Sequence[float], select: str = 'mIoU'
) -> Dict[str, Dict[str, Optional[SweepPoint]]]:
    """``{label: {f'{budget:g}': the best point within the budget, or None}}``."""
    return {
        label: {f'{fa:g}': choose_operating_point(points, fa, select) for fa in budgets}
        for label, points in curves.items()
    }


def at_threshold(points: Sequence[SweepPoint], threshold: float) -> Optional[SweepPoint]:
    """The first point at ``threshold`` (to 1e-9), or None."""
    near = [p for p in points if math.isclose(p.threshold, threshold, abs_tol=1e-9)]
    return near[0] if near else None


def plot_comparison(
    curves: Dict[str, List[SweepPoint]],
    budgets: Sequence[float],
    path: str,
    groups: Optional[Sequence[str]] = None,
) -> None:
    """mIoU and Pd against Fa, one curve per sweep, each sweep's threshold-0.5 point starred
    and the budgets dashed; the sweeps of one group share a colour and a legend entry."""
    plt = pyplot()
    groups = list(groups or curves)
    order = list(dict.fromkeys(groups))
    cmap = plt.get_cmap('tab10' if len(order) <= 10 else 'tab20')
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key in zip(axes, ('mIoU', 'Pd')):
        seen = set()
        for (label, points), group in zip(curves.items(), groups):
            color = cmap(order.index(group) % cmap.N)
            plot_against_fa(
                ax,
                points,
                key,
                color=color,
                marker='o',
                markersize=2.5,
                linewidth=1.2,
                label=None if group in seen else group,
            )
            seen.add(group)
            half = at_threshold(points, 0.5)
            if half is not None:
                star_point(ax, half, key, markersize=11, color=color)
        for fa in budgets:
            ax.axvline(fa, color='grey', linestyle='--', linewidth=0.8)
        label_fa_axes(ax, key)
    axes[0].legend(fontsize=8, loc='lower right')
    fig.suptitle('threshold sweeps (star: threshold 0.5; dashed: Fa budgets)', fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/compare_pareto.py``'s work on its parsed arguments: print the best
    operating point of every sweep per budget, draw ``--out``, write ``--json``. Returns the
    exit status."""
    curves = load_sweeps(args.sweeps, args.min_area, args.labels, args.groups)
    best = best_per_budget(curves, args.fa, args.select)
    width = max(len(label) for label in curves)
    for fa in args.fa:
        print(f'highest {args.select} with Fa <= {fa:g} (min_area {args.min_area}):')
        print(f'  {"sweep":<{width}}  threshold   mIoU   nIoU     Pd      Fa')
        for label, points in curves.items():
            p = best[label][f'{fa:g}']
            if p is None:
                print(f'  {label:<{width}}  -   (lowest Fa {min(q.Fa for q in points):.1f})')
            else:
                print(
                    f'  {label:<{width}}  {p.threshold:9g}  {p.mIoU:5.2f}  '
                    f'{p.nIoU:5.2f}  {p.Pd:5.2f}  {p.Fa:6.1f}'
                )
    if args.out:
        plot_comparison(curves, args.fa, args.out, args.groups)
        print(f'wrote {args.out}')
    if args.json:
        result = {
            label: {fa: None if p is None else p._asdict() for fa, p in row.items()}
            for label, row in best.items()
        }
        write_json(
            dict(select=args.select, min_area=args.min_area, budgets=args.fa, best=result),
            args.json,
        )
    return 0
