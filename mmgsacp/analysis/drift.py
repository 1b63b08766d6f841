"""Drift curves (``DriftMonitorHook``'s ``drift.jsonl``) of one or more runs.

Panels: pseudo-mask IoU against the true masks, pseudo/true area ratio, share of regions
collapsed to their point, and ignored pixels per pseudo-target pixel.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmgsacp.utils.io import InputError
from .plotting import pyplot, save_figure

PANELS = (('pseudo_iou', 'pseudo-mask IoU vs true mask'), ('area_ratio', 'area pseudo / true'),
          ('collapsed', 'regions collapsed to the point'),
          ('ignore_share', 'ignored px per target px'))


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
    return np.convolve(np.pad(values, (window // 2, window - 1 - window // 2), mode='edge'),
                       kernel, mode='valid')


def plot_drift(runs: Sequence[str], out: str, window: int = 5,
               labels: Optional[Sequence[str]] = None) -> None:
    """One line per run in each panel, against the iteration, written to the PNG ``out``.

    Args:
        runs: Folders holding a ``drift.jsonl``.
        out: Output PNG.
        window: Moving-average window (1: raw).
        labels: Legend names, one per run (default: the folder names).

    Raises:
        InputError: Wrong number of labels, or a run without drift rows.
    """
    labels = list(labels or [osp.basename(osp.normpath(run)) for run in runs])
    if len(labels) != len(runs):
        raise InputError(f'{len(labels)} labels for {len(runs)} runs')
    curves = [read_curve(run) for run in runs]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    for rows, label in zip(curves, labels):
        steps = np.array([r['iter'] for r in rows])
        for ax, (key, title) in zip(axes, PANELS):
            vals = np.array([r.get(key, np.nan) for r in rows], dtype=float)
            ax.plot(steps, smooth(vals, window), label=label)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel('iteration')
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
