"""Drift curves (``DriftMonitorHook``'s ``drift.jsonl``) of one or more runs.

Panels: one per scalar of :data:`PANELS` that some run logged (older logs lack the scalars
added with the second form of the targets; those panels are left out, not drawn empty).
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmgsacp.utils.io import InputError

from .plotting import pyplot, save_figure

#: (key in ``drift.jsonl``, panel title), in drawing order: ``DriftMonitorHook``'s scalars.
PANELS = (
    ('pseudo_iou', 'pseudo-mask IoU vs true mask'),
    ('area_ratio', 'area pseudo / true'),
    ('collapsed', 'regions collapsed to the point'),
    ('ignore_share', 'ignored px per target px'),
    ('region_core_ratio', 'region / core blob (median)'),
    ('band_precision', 'band px accepted: true-target share'),
    ('target_as_background', 'true-target px labelled background'),
    ('fp_pixels', 'false-positive px per image'),
    ('negative_target_share', 'negatives on true targets'),
)

#: Panels per row of the figure.
PANELS_PER_ROW = 4


def present_panels(curves: Sequence[List[dict]]) -> List[tuple]:
    """The entries of :data:`PANELS` that at least one row of one run holds as a number."""

    def logged(key: str) -> bool:
        return any(
            isinstance(row.get(key), (int, float)) and np.isfinite(row[key])
            for rows in curves
            for row in rows
        )

    return [panel for panel in PANELS if logged(panel[0])]


def read_curve(run_dir: str) -> List[dict]:
    """The logged rows of ``run_dir/drift.jsonl``.

    Raises:
        InputError: The file is missing or empty.
    """
    path = osp.join(run_dir, 'drift.jsonl')
    if not osp.isfile(path):
        raise InputError(f'{path} not found (train with DriftMonitorHook)')
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise InputError(f'{path} is empty')
    return rows


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average: each logged batch is a small sample, so single points are noisy."""
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(
        np.pad(values, (window // 2, window - 1 - window // 2), mode='edge'), kernel, mode='valid'
    )


def plot_drift(
    runs: Sequence[str], out: str, window: int = 5, labels: Optional[Sequence[str]] = None
) -> None:
    """One line per run in each panel, against the iteration, written to the PNG ``out``.

    Args:
        runs: Folders holding a ``drift.jsonl``.
        out: Output PNG.
        window: Moving-average window (1: raw).
        labels: Legend names, one per run (default: the folder names).

    Panels whose scalar no run logged are left out (a run without one of the drawn scalars
    simply has no line there).

    Raises:
        InputError: Wrong number of labels, a run without drift rows, or no known scalar.
    """
    labels = list(labels or [osp.basename(osp.normpath(run)) for run in runs])
    if len(labels) != len(runs):
        raise InputError(f'{len(labels)} labels for {len(runs)} runs')
    curves = [read_curve(run) for run in runs]
    panels = present_panels(curves)
    if not panels:
        raise InputError(
            f'no drift scalar ({", ".join(k for k, _ in PANELS)}) in the logs of {", ".join(runs)}'
        )
    ncols = min(len(panels), PANELS_PER_ROW)
    nrows = -(-len(panels) // ncols)
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for rows, label in zip(curves, labels):
        steps = np.array([r['iter'] for r in rows])
        for ax, (key, title) in zip(axes, panels):
            vals = np.array([r.get(key, np.nan) for r in rows], dtype=float)
            ax.plot(steps, smooth(vals, window), label=label)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel('iteration')
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out, dpi=110)


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/plot_drift.py``'s work on its parsed arguments. Returns the exit
    status."""
    plot_drift(args.runs, args.out, args.smooth, args.labels)
    print(f'wrote {args.out}')
    return 0
