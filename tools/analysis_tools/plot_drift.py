#!/usr/bin/env python
"""Plot drift curves (DriftMonitorHook's ``drift.jsonl``) of one or more runs.

    python tools/plot_drift.py RUN_DIR [RUN_DIR ...] --out drift.png [--smooth 5]
        [--labels NAME ...]

Each RUN_DIR holds a ``drift.jsonl``; the run is labelled by the folder's name, or by the
matching ``--labels`` entry (one per run). Panels:
pseudo-mask IoU against the true masks, pseudo/true area ratio, share of regions collapsed to
their point, and ignored pixels per pseudo-target pixel.
"""
import argparse
import json
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmgsacp.utils.fileio import atomic_write_bytes  # noqa: E402

PANELS = (('pseudo_iou', 'pseudo-mask IoU vs true mask'), ('area_ratio', 'area pseudo / true'),
          ('collapsed', 'regions collapsed to the point'),
          ('ignore_share', 'ignored px per target px'))


def read_curve(run_dir: str):
    path = osp.join(run_dir, 'drift.jsonl')
    if not osp.isfile(path):
        raise SystemExit(f'error: {path} not found (train with DriftMonitorHook)')
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise SystemExit(f'error: {path} is empty')
    return rows


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average: each logged batch is a small sample, so single points are noisy."""
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(np.pad(values, (window // 2, window - 1 - window // 2), mode='edge'),
                       kernel, mode='valid')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--out', required=True)
    parser.add_argument('--smooth', type=int, default=5)
    parser.add_argument('--labels', nargs='+', default=None,
                        help='legend names, one per run (default: the folder names)')
    args = parser.parse_args(argv)
    labels = args.labels or [osp.basename(osp.normpath(run)) for run in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f'error: {len(labels)} labels for {len(args.runs)} runs')
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    for run, label in zip(args.runs, labels):
        rows = read_curve(run)
        steps = np.array([r['iter'] for r in rows])
        for ax, (key, title) in zip(axes, PANELS):
            vals = np.array([r.get(key, np.nan) for r in rows], dtype=float)
            ax.plot(steps, smooth(vals, args.smooth), label=label)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel('iteration')
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110)
    atomic_write_bytes(buf.getvalue(), args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
