#!/usr/bin/env python
"""Sweep the probability threshold (and a minimum blob area) over saved probability maps and
pick the operating point that meets a false-alarm budget.

Reads ``<stem>.png`` probability maps (16-bit: value / 65535, as ``tools/test.py --prob-dir``
writes them; 8-bit: value / 255) or ``<stem>.npy`` float maps in [0, 1], scores every
(threshold, min_area) point with the project's metric (GSACP.md §4; target where probability >
threshold, predicted components smaller than min_area px dropped first) and writes:

* ``OUT/pareto.csv``: threshold, min_area, mIoU, nIoU, Pd, Fa (one row per point);
* ``OUT/pareto.png``: Pd vs Fa and mIoU vs Fa, one curve per min_area, the chosen point marked;
* ``OUT/operating_point.json``: the chosen point (null when none meets the budget).

Example::

    python tools/test.py CONFIG CKPT --prob-dir work_dirs/run/probs
    python tools/analyze_pareto.py --prob-dir work_dirs/run/probs \\
        --gt-dir ../shared/data/SIRST3/masks \\
        --split ../shared/data/SIRST3/img_idx/test_SIRST3.txt \\
        --thresholds 0.05:0.95:0.05 --min-areas 0 2 4 --target-fa 10 --out-dir work_dirs/run/pareto

The output folder is built beside ``OUT`` and moved into place at the end; an existing non-empty
``OUT`` is refused unless ``--overwrite``. Exit status: 0 on success (also when no point meets
the budget, which is reported), 2 on a usage or data error.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

# Appended, not prepended: an installed (or PYTHONPATH) mmgsacp wins over the checkout.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.append(REPO_ROOT)

from mmgsacp.evaluation.functional import mask_from_png  # noqa: E402
from mmgsacp.evaluation.sweep import (SELECT_KEYS, SweepPoint,  # noqa: E402
                                      choose_operating_point, parse_thresholds, sweep)
from mmgsacp.utils.fileio import replace_dir  # noqa: E402

PROB_SUFFIXES = ('.png', '.npy')
CSV_COLUMNS = ('threshold', 'min_area', 'mIoU', 'nIoU', 'Pd', 'Fa')
MAX_LISTED = 20


class SweepError(Exception):
    """A data or usage problem the user must fix; reported without a traceback."""


# ---------------------------------------------------------------------------------------------
# Reading


def read_probability(path: Path) -> np.ndarray:
    """A saved probability map as float64 in [0, 1].

    Args:
        path: ``.png`` (16-bit: value / 65535; 8-bit: value / 255; one channel) or ``.npy``
            ((H, W) or (1, H, W); float in [0, 1], or uint8 / uint16 scaled as the PNGs).

    Returns:
        (H, W) float64 probabilities.
    """
    if path.suffix == '.npy':
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise SweepError(f'cannot read {path}: {err}') from err
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise SweepError(f'cannot decode {path}')
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise SweepError(f'{path}: a probability map must have one channel, got shape '
                         f'{arr.shape}')
    if arr.dtype == np.uint16:
        return arr / 65535.0
    if arr.dtype == np.uint8:
        return arr / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
            raise SweepError(f'{path}: probabilities must be finite and in [0, 1]')
        return arr
    raise SweepError(f'{path}: unsupported pixel type {arr.dtype} (expected 8/16-bit PNG or '
                     'float .npy)')


def read_gt_mask(path: Path) -> np.ndarray:
    """Truth target pixels of a mask PNG: grey value > 127 (colour read as luma).

    Args:
        path: Mask file.

    Returns:
        (H, W) bool mask.
    """
    try:
        with Image.open(path) as img:
            if img.mode == '1':
                return np.asarray(img, dtype=bool)
            if img.mode not in ('L', 'I', 'I;16', 'I;16B', 'I;16L'):
                img = img.convert('L')
            return mask_from_png(np.asarray(img))
    except OSError as err:
        raise SweepError(f'cannot read mask {path}: {err}') from err


def read_stems(gt_dir: Path, split: Optional[Path]) -> List[str]:
    """Stems to score: the split's non-blank lines, else every PNG stem in ``gt_dir``."""
    if split is not None:
        return [s.strip() for s in split.read_text().splitlines() if s.strip()]
    return sorted(p.stem for p in gt_dir.glob('*.png'))


def find_probability_files(prob_dir: Path, stems: Sequence[str]) -> List[Path]:
    """The probability file of every stem (``.png`` preferred over ``.npy``).

    Raises:
        SweepError: Naming the stems without a file.
    """
    paths, missing = [], []
    for stem in stems:
        found = next((prob_dir / f'{stem}{s}' for s in PROB_SUFFIXES
                      if (prob_dir / f'{stem}{s}').is_file()), None)
        if found is None:
            missing.append(stem)
        paths.append(found)
    if missing:
        shown = ', '.join(missing[:MAX_LISTED])
        more = f' (and {len(missing) - MAX_LISTED} more)' if len(missing) > MAX_LISTED else ''
        raise SweepError(f'{len(missing)} of {len(stems)} probability maps missing from '
                         f'{prob_dir} (looked for <stem>.png / <stem>.npy): {shown}{more}')
    return paths


def iter_pairs(prob_paths: Sequence[Path], gt_dir: Path, stems: Sequence[str],
               progress: bool = True) -> Iterator[tuple]:
    """Yield ``(probability (H, W) float64, truth (H, W) bool)`` per stem, one at a time."""
    for stem, prob_path in tqdm(list(zip(stems, prob_paths)), desc='sweep', unit='img',
                                disable=not progress, file=sys.stderr):
        prob = read_probability(prob_path)
        gt = read_gt_mask(gt_dir / f'{stem}.png')
        if prob.shape != gt.shape:
            raise SweepError(f'size mismatch: {prob_path} is {prob.shape[1]}x{prob.shape[0]} '
                             f'(WxH) but its mask is {gt.shape[1]}x{gt.shape[0]}; '
                             'probabilities must be at the original image size')
        yield prob, gt


# ---------------------------------------------------------------------------------------------
# Writing


def write_csv(points: Sequence[SweepPoint], path: Path) -> None:
    """One row per point; floats in Python's shortest round-trip form (exact on re-read)."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for p in points:
            writer.writerow([repr(float(p.threshold)), p.min_area,
                             *(repr(float(getattr(p, k))) for k in CSV_COLUMNS[2:])])


def read_csv(path: Path) -> List[SweepPoint]:
    """The points :func:`write_csv` wrote, in file order (its floats re-read exactly)."""
    with open(path, newline='') as f:
        return [SweepPoint(float(r['threshold']), int(r['min_area']),
                           *(float(r[k]) for k in CSV_COLUMNS[2:])) for r in csv.DictReader(f)]


def _json_point(p: Optional[SweepPoint]) -> Optional[Dict[str, float]]:
    if p is None:
        return None
    return {k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in p._asdict().items()}


def describe(p: SweepPoint) -> str:
    return (f'threshold {p.threshold:g}, min_area {p.min_area}: mIoU {p.mIoU:.2f}  '
            f'nIoU {p.nIoU:.2f}  Pd {p.Pd:.2f}  Fa {p.Fa:.2f} x1e-6')


def plot_pareto(points: Sequence[SweepPoint], chosen: Optional[SweepPoint], max_fa: float,
                select: str, path: Path) -> None:
    """Pd vs Fa and mIoU vs Fa, one curve per min_area (ordered by threshold), the Fa budget
    as a dashed line and the chosen point starred and annotated."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    areas = sorted({p.min_area for p in points})
    fa_all = np.array([p.Fa for p in points], np.float64)
    fa_max = float(np.nanmax(fa_all)) if np.isfinite(fa_all).any() else 1.0
    for ax, key in zip(axes, ('Pd', 'mIoU')):
        for area in areas:
            curve = sorted((p for p in points if p.min_area == area), key=lambda p: p.threshold)
            ax.plot([p.Fa for p in curve], [getattr(p, key) for p in curve], marker='o',
                    markersize=3, linewidth=1.2, label=f'min_area {area}')
        ax.axvline(max_fa, color='grey', linestyle='--', linewidth=1,
                   label=f'Fa budget {max_fa:g}')
        if chosen is not None:
            ax.plot([chosen.Fa], [getattr(chosen, key)], marker='*', markersize=16,
                    color='crimson', zorder=5, linestyle='none')
            ax.annotate(f't={chosen.threshold:g}, a={chosen.min_area}\n'
                        f'{key} {getattr(chosen, key):.2f}, Fa {chosen.Fa:.2f}',
                        xy=(chosen.Fa, getattr(chosen, key)), xytext=(12, -28),
                        textcoords='offset points', fontsize=8,
                        arrowprops=dict(arrowstyle='->', color='crimson'))
        # Fa spans orders of magnitude over a sweep: a log axis keeps low-Fa points apart.
        if fa_max > 50:
            ax.set_xscale('symlog', linthresh=1.0)
        ax.set_xlabel('Fa (x1e-6)')
        ax.set_ylabel(f'{key} (%)')
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc='lower right')
    title = (f'highest {select} with Fa <= {max_fa:g}: threshold {chosen.threshold:g}, '
             f'min_area {chosen.min_area}' if chosen is not None else
             f'no operating point has Fa <= {max_fa:g}')
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SweepError(f'--out-dir {out_dir} exists and is not a folder')
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise SweepError(f'--out-dir {out_dir} exists and is not empty; pass --overwrite to '
                         'replace it')


def write_outputs(out_dir: Path, points: Sequence[SweepPoint], chosen: Optional[SweepPoint],
                  max_fa: float, select: str) -> None:
    """Fill a hidden folder beside ``out_dir`` and move it into place only when complete."""
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.partial-', dir=parent))
    try:
        write_csv(points, tmp / 'pareto.csv')
        plot_pareto(points, chosen, max_fa, select, tmp / 'pareto.png')
        report = dict(select=select, max_fa=max_fa, point=_json_point(chosen))
        (tmp / 'operating_point.json').write_text(json.dumps(report, indent=2) + '\n')
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--prob-dir', type=Path, required=True,
                        help='folder of probability maps <stem>.png (16/8-bit) or <stem>.npy')
    parser.add_argument('--gt-dir', type=Path, required=True,
                        help='folder of ground-truth masks <stem>.png (target where > 127)')
    parser.add_argument('--split', type=Path, default=None,
                        help='file with one stem per line (default: every PNG in --gt-dir)')
    parser.add_argument('--thresholds', nargs='+', default=['0.05:0.95:0.05'],
                        help="ranges 'start:stop:step' (stop included) and/or single values, "
                        'e.g. 0.05:0.95:0.05 0.99 (default 0.05:0.95:0.05)')
    parser.add_argument('--min-areas', nargs='+', type=int, default=[0],
                        help='minimum predicted component areas (px) to sweep (default 0)')
    parser.add_argument('--target-fa', type=float, default=10.0,
                        help='false-alarm budget, in units of 1e-6 (default 10)')
    parser.add_argument('--select', choices=SELECT_KEYS, default='mIoU',
                        help='metric maximised among points within the budget (default mIoU)')
    parser.add_argument('--out-dir', type=Path, required=True, help='output folder')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing non-empty --out-dir')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        for folder, flag in ((args.prob_dir, '--prob-dir'), (args.gt_dir, '--gt-dir')):
            if not folder.is_dir():
                raise SweepError(f'{flag} {folder} is not a folder')
        if args.split is not None and not args.split.is_file():
            raise SweepError(f'--split {args.split} is not a file')
        if any(a < 0 for a in args.min_areas):
            raise SweepError(f'--min-areas must be >= 0, got {args.min_areas}')
        min_areas = sorted(set(args.min_areas))
        try:
            thresholds = parse_thresholds(args.thresholds)
        except ValueError as err:
            raise SweepError(f'--thresholds: {err}') from err
        check_out_dir(args.out_dir, args.overwrite)
        if not any(p.suffix in PROB_SUFFIXES for p in args.prob_dir.iterdir()):
            raise SweepError(f'empty prediction set: no probability maps (.png/.npy) in '
                             f'{args.prob_dir}')
        stems = read_stems(args.gt_dir, args.split)
        if not stems:
            where = f'split {args.split} is empty' if args.split else \
                f'no PNG masks in {args.gt_dir}'
            raise SweepError(f'empty prediction set: nothing to sweep ({where})')
        prob_paths = find_probability_files(args.prob_dir, stems)
        pairs = iter_pairs(prob_paths, args.gt_dir, stems, not args.no_progress)
        points = sweep(pairs, thresholds, min_areas)
    except SweepError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    chosen = choose_operating_point(points, args.target_fa, args.select)
    try:
        write_outputs(args.out_dir, points, chosen, args.target_fa, args.select)
    except OSError as err:
        print(f'error: cannot write {args.out_dir}: {err}', file=sys.stderr)
        return 2
    print(f'swept {len(stems)} images at {len(thresholds)} thresholds x {len(min_areas)} '
          f'min_areas; wrote {args.out_dir}/pareto.csv, pareto.png, operating_point.json')
    if chosen is None:
        lowest = min((p for p in points if not math.isnan(p.Fa)), key=lambda p: p.Fa)
        print(f'no operating point has Fa <= {args.target_fa:g} x1e-6; lowest Fa: '
              f'{describe(lowest)}')
    else:
        print(f'operating point (highest {args.select} with Fa <= {args.target_fa:g} x1e-6): '
              f'{describe(chosen)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
