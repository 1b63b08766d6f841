#!/usr/bin/env python
"""Compare methods at the same false-alarm rate, from their threshold sweeps.

    python tools/compare_pareto.py SWEEP [SWEEP ...] --fa 150 120 [--labels NAME ...]
        [--select mIoU|Pd] [--min-area 0] [--out curves.png] [--groups NAME ...] [--json F]

Each SWEEP is a ``pareto.csv`` written by ``tools/analyze_pareto.py`` (or the folder holding
it). A method's fixed-threshold figures put it at one point of its own mIoU-vs-Fa curve; a
method that reports fewer false alarms may only sit further along the same trade-off as a
higher threshold would put another. For every ``--fa`` budget this prints, per sweep, the
operating point with the highest ``--select`` metric (mIoU by default, Pd for a detection view)
among those with Fa <= budget (threshold, mIoU, nIoU, Pd, Fa), or ``-`` when none is that low.
``--out`` draws all curves (mIoU and Pd against Fa), with each sweep's threshold-0.5 point
marked; ``--groups`` (one name per sweep) gives the sweeps of one group (e.g. one method's
seeds) one colour and one legend entry. Only the rows of ``--min-area`` are used.

The thresholds are chosen on the sweep's own images: the table compares trade-offs, it is not
a way to pick a threshold for a test set. Exit status 2 on a usage or data error.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from analyze_pareto import read_csv  # noqa: E402  (the reader of the sweeps it writes)
from mmgsacp.evaluation.sweep import SELECT_KEYS, SweepPoint  # noqa: E402
from mmgsacp.utils.fileio import atomic_write_bytes, atomic_write_text  # noqa: E402


class CompareError(Exception):
    """A usage or data error, reported with exit status 2."""


def read_sweep(path: str, min_area: int) -> List[SweepPoint]:
    """The rows of one ``pareto.csv`` with ``min_area``, ordered by threshold."""
    if osp.isdir(path):
        path = osp.join(path, 'pareto.csv')
    if not osp.isfile(path):
        raise CompareError(f'{path} not found (write it with tools/analyze_pareto.py)')
    try:
        rows = read_csv(path)
    except (KeyError, ValueError, TypeError) as err:
        raise CompareError(f'{path}: not a sweep written by analyze_pareto.py ({err!r})') from err
    areas = sorted({p.min_area for p in rows})
    rows = sorted((p for p in rows if p.min_area == min_area), key=lambda p: p.threshold)
    if not rows:
        raise CompareError(f'{path}: no rows with min_area {min_area} (it has {areas})')
    return rows


def best_within(points: Sequence[SweepPoint], max_fa: float,
                select: str = 'mIoU') -> Optional[SweepPoint]:
    """Highest ``select`` among the points with Fa <= ``max_fa`` (lower Fa breaks ties)."""
    ok = [p for p in points if p.Fa <= max_fa]
    return max(ok, key=lambda p: (getattr(p, select), -p.Fa)) if ok else None


def at_threshold(points: Sequence[SweepPoint], threshold: float) -> Optional[SweepPoint]:
    near = [p for p in points if math.isclose(p.threshold, threshold, abs_tol=1e-9)]
    return near[0] if near else None


def plot(curves: Dict[str, List[SweepPoint]], budgets: Sequence[float], path: str,
         groups: Optional[Sequence[str]] = None) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    groups = list(groups or curves)
    order = list(dict.fromkeys(groups))
    cmap = plt.get_cmap('tab10' if len(order) <= 10 else 'tab20')
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key in zip(axes, ('mIoU', 'Pd')):
        seen = set()
        for (label, points), group in zip(curves.items(), groups):
            color = cmap(order.index(group) % cmap.N)
            ax.plot([p.Fa for p in points], [getattr(p, key) for p in points], color=color,
                    marker='o', markersize=2.5, linewidth=1.2,
                    label=None if group in seen else group)
            seen.add(group)
            half = at_threshold(points, 0.5)
            if half is not None:
                ax.plot([half.Fa], [getattr(half, key)], marker='*', markersize=11,
                        color=color, linestyle='none')
        for fa in budgets:
            ax.axvline(fa, color='grey', linestyle='--', linewidth=0.8)
        ax.set_xlabel('Fa (x1e-6)')
        ax.set_ylabel(f'{key} (%)')
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc='lower right')
    fig.suptitle('threshold sweeps (star: threshold 0.5; dashed: Fa budgets)', fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110)
    plt.close(fig)
    atomic_write_bytes(buf.getvalue(), path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('sweeps', nargs='+', help='pareto.csv files or folders holding one')
    parser.add_argument('--fa', type=float, nargs='+', required=True,
                        help='false-alarm budgets (x1e-6)')
    parser.add_argument('--labels', nargs='+', default=None,
                        help='one name per sweep (default: the folder names)')
    parser.add_argument('--select', choices=SELECT_KEYS, default='mIoU',
                        help='the metric to maximise within each budget')
    parser.add_argument('--min-area', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the curves to this PNG')
    parser.add_argument('--groups', nargs='+', default=None,
                        help='one name per sweep; a group shares one colour in the plot')
    parser.add_argument('--json', default=None)
    return parser.parse_args(argv)


def _label(path: str) -> str:
    path = osp.normpath(path)
    if osp.basename(path) == 'pareto.csv':
        path = osp.dirname(path)
    if osp.basename(path) == 'pareto':
        path = osp.dirname(path)
    return osp.basename(path)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        labels = args.labels or [_label(s) for s in args.sweeps]
        if len(labels) != len(args.sweeps):
            raise CompareError(f'{len(labels)} --labels for {len(args.sweeps)} sweeps')
        if len(set(labels)) != len(labels):
            raise CompareError(f'labels must differ, got {labels} (name them with --labels)')
        if args.groups is not None and len(args.groups) != len(args.sweeps):
            raise CompareError(f'{len(args.groups)} --groups for {len(args.sweeps)} sweeps')
        curves = {label: read_sweep(s, args.min_area) for label, s in zip(labels, args.sweeps)}
    except CompareError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    result = {}
    width = max(len(label) for label in labels)
    for fa in args.fa:
        print(f'highest {args.select} with Fa <= {fa:g} (min_area {args.min_area}):')
        print(f"  {'sweep':<{width}}  threshold   mIoU   nIoU     Pd      Fa")
        for label, points in curves.items():
            best = best_within(points, fa, args.select)
            result.setdefault(label, {})[f'{fa:g}'] = None if best is None else best._asdict()
            if best is None:
                print(f'  {label:<{width}}  -   (lowest Fa {min(p.Fa for p in points):.1f})')
            else:
                print(f'  {label:<{width}}  {best.threshold:9g}  {best.mIoU:5.2f}  '
                      f'{best.nIoU:5.2f}  {best.Pd:5.2f}  {best.Fa:6.1f}')
    if args.out:
        plot(curves, args.fa, args.out, args.groups)
        print(f'wrote {args.out}')
    if args.json:
        atomic_write_text(json.dumps(dict(select=args.select, min_area=args.min_area,
                                          budgets=args.fa, best=result), indent=2), args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
