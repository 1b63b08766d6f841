"""Threshold / min-area sweeps over folders of saved probability maps.

Reads ``<stem>.png`` probability maps (16-bit: value / 65535, as ``tools/test.py --prob-dir``
writes them; 8-bit: value / 255) or ``<stem>.npy`` float maps in [0, 1], scores every
(threshold, min_area) point with the project's metric (``mmgsacp.evaluation.sweep``; target
where probability > threshold, predicted components smaller than min_area px dropped first) and
writes ``pareto.csv``, ``pareto.png`` and ``operating_point.json`` (see :func:`analyze_pareto`).
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from mmgsacp.evaluation.functional import mask_from_png
from mmgsacp.evaluation.sweep import SweepPoint, choose_operating_point, parse_thresholds, sweep
from mmgsacp.utils.fileio import replace_dir
from mmgsacp.utils.io import InputError, check_out_dir, listed, read_stems, write_json

from .plotting import label_fa_axes, plot_against_fa, pyplot, save_figure, star_point

PROB_SUFFIXES = ('.png', '.npy')
CSV_COLUMNS = ('threshold', 'min_area', 'mIoU', 'nIoU', 'Pd', 'Fa')


class ParetoReport(NamedTuple):
    """What :func:`analyze_pareto` measured and chose."""

    points: List[SweepPoint]
    chosen: Optional[SweepPoint]
    num_images: int
    num_thresholds: int
    num_min_areas: int


# ---------------------------------------------------------------------------------------------
# Reading


def read_probability(path: Path) -> np.ndarray:
    """A saved probability map as float64 in [0, 1].

    Args:
        path: ``.png`` (16-bit: value / 65535; 8-bit: value / 255; one channel) or ``.npy``
            ((H, W) or (1, H, W); float in [0, 1], or uint8 / uint16 scaled as the PNGs).

    Returns:
        (H, W) float64 probabilities.

    Raises:
        InputError: The file cannot be read, has several channels, an unsupported pixel type or
            float values outside [0, 1].
    """
    if path.suffix == '.npy':
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputError(f'cannot read {path}: {err}') from err
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise InputError(f'cannot decode {path}')
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InputError(f'{path}: a probability map must have one channel, got shape {arr.shape}')
    if arr.dtype == np.uint16:
        return arr / 65535.0
    if arr.dtype == np.uint8:
        return arr / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
            raise InputError(f'{path}: probabilities must be finite and in [0, 1]')
        return arr
    raise InputError(
        f'{path}: unsupported pixel type {arr.dtype} (expected 8/16-bit PNG or float .npy)'
    )


def read_mask_png(path: Path) -> np.ndarray:
    """Target pixels of a mask PNG: grey value > 127 (colour read as luma).

    Args:
        path: Mask file; 8-bit grey, 1-bit, 16/32-bit grey, or colour/palette.

    Returns:
        (H, W) bool mask.

    Raises:
        InputError: The file cannot be read.
    """
    try:
        with Image.open(path) as img:
            if img.mode == '1':
                return np.asarray(img, dtype=bool)
            if img.mode not in ('L', 'I', 'I;16', 'I;16B', 'I;16L'):
                img = img.convert('L')
            return mask_from_png(np.asarray(img))
    except OSError as err:
        raise InputError(f'cannot read mask {path}: {err}') from err


def find_probability_files(prob_dir: Path, stems: Sequence[str]) -> List[Path]:
    """The probability file of every stem (``.png`` preferred over ``.npy``).

    Raises:
        InputError: Naming the stems without a file.
    """
    paths, missing = [], []
    for stem in stems:
        found = next(
            (prob_dir / f'{stem}{s}' for s in PROB_SUFFIXES if (prob_dir / f'{stem}{s}').is_file()),
            None,
        )
        if found is None:
            missing.append(stem)
        paths.append(found)
    if missing:
        raise InputError(
            f'{len(missing)} of {len(stems)} probability maps missing from '
            f'{prob_dir} (looked for <stem>.png / <stem>.npy): {listed(missing)}'
        )
    return paths


def iter_pairs(
    prob_paths: Sequence[Path], gt_dir: Path, stems: Sequence[str], progress: bool = True
) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Yield ``(probability (H, W) float64, truth (H, W) bool)`` per stem, one at a time."""
    for stem, prob_path in tqdm(
        list(zip(stems, prob_paths)),
        desc='sweep',
        unit='img',
        disable=not progress,
        file=sys.stderr,
    ):
        prob = read_probability(prob_path)
        gt = read_mask_png(gt_dir / f'{stem}.png')
        if prob.shape != gt.shape:
            raise InputError(
                f'size mismatch: {prob_path} is {prob.shape[1]}x{prob.shape[0]} '
                f'(WxH) but its mask is {gt.shape[1]}x{gt.shape[0]}; '
                'probabilities must be at the original image size'
            )
        yield prob, gt


# ---------------------------------------------------------------------------------------------
# Writing


def write_sweep_csv(points: Sequence[SweepPoint], path: Path) -> None:
    """One row per point; floats in Python's shortest round-trip form (exact on re-read)."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for p in points:
            writer.writerow(
                [
                    repr(float(p.threshold)),
                    p.min_area,
                    *(repr(float(getattr(p, k))) for k in CSV_COLUMNS[2:]),
                ]
            )


def read_sweep_csv(path: Union[str, Path]) -> List[SweepPoint]:
    """The points :func:`write_sweep_csv` wrote, in file order (its floats re-read exactly)."""
    with open(path, newline='') as f:
        return [
            SweepPoint(
                float(r['threshold']), int(r['min_area']), *(float(r[k]) for k in CSV_COLUMNS[2:])
            )
            for r in csv.DictReader(f)
        ]


def json_point(p: Optional[SweepPoint]) -> Optional[Dict[str, float]]:
    """A point as a JSON object, NaN metrics as null (JSON has no NaN)."""
    if p is None:
        return None
    return {
        k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in p._asdict().items()
    }


def describe(p: SweepPoint) -> str:
    """One line: the point's threshold, min_area and metrics."""
    return (
        f'threshold {p.threshold:g}, min_area {p.min_area}: mIoU {p.mIoU:.2f}  '
        f'nIoU {p.nIoU:.2f}  Pd {p.Pd:.2f}  Fa {p.Fa:.2f} x1e-6'
    )


def plot_pareto(
    points: Sequence[SweepPoint],
    chosen: Optional[SweepPoint],
    max_fa: float,
    select: str,
    path: Path,
) -> None:
    """Pd vs Fa and mIoU vs Fa, one curve per min_area (ordered by threshold), the Fa budget
    as a dashed line and the chosen point starred and annotated."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    areas = sorted({p.min_area for p in points})
    fa_all = np.array([p.Fa for p in points], np.float64)
    fa_max = float(np.nanmax(fa_all)) if np.isfinite(fa_all).any() else 1.0
    for ax, key in zip(axes, ('Pd', 'mIoU')):
        for area in areas:
            curve = sorted((p for p in points if p.min_area == area), key=lambda p: p.threshold)
            plot_against_fa(
                ax,
                curve,
                key,
                marker='o',
                markersize=3,
                linewidth=1.2,
                label=f'min_area {area}',
            )
        ax.axvline(max_fa, color='grey', linestyle='--', linewidth=1, label=f'Fa budget {max_fa:g}')
        if chosen is not None:
            star_point(ax, chosen, key, markersize=16, color='crimson', zorder=5)
            ax.annotate(
                f't={chosen.threshold:g}, a={chosen.min_area}\n'
                f'{key} {getattr(chosen, key):.2f}, Fa {chosen.Fa:.2f}',
                xy=(chosen.Fa, getattr(chosen, key)),
                xytext=(12, -28),
                textcoords='offset points',
                fontsize=8,
                arrowprops=dict(arrowstyle='->', color='crimson'),
            )
        # Fa spans orders of magnitude over a sweep: a log axis keeps low-Fa points apart.
        if fa_max > 50:
            ax.set_xscale('symlog', linthresh=1.0)
        label_fa_axes(ax, key)
        ax.legend(fontsize=8, loc='lower right')
    title = (
        f'highest {select} with Fa <= {max_fa:g}: threshold {chosen.threshold:g}, '
        f'min_area {chosen.min_area}'
        if chosen is not None
        else f'no operating point has Fa <= {max_fa:g}'
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def write_outputs(
    out_dir: Path,
    points: Sequence[SweepPoint],
    chosen: Optional[SweepPoint],
    max_fa: float,
    select: str,
) -> None:
    """Fill a hidden folder beside ``out_dir`` and move it into place only when complete."""
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.partial-', dir=parent))
    try:
        write_sweep_csv(points, tmp / 'pareto.csv')
        plot_pareto(points, chosen, max_fa, select, tmp / 'pareto.png')
        write_json(
            dict(select=select, max_fa=max_fa, point=json_point(chosen)),
            tmp / 'operating_point.json',
            final_newline=True,
        )
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
# The whole analysis


def analyze_pareto(
    prob_dir: Path,
    gt_dir: Path,
    out_dir: Path,
    split: Optional[Path] = None,
    thresholds: Sequence[str] = ('0.05:0.95:0.05',),
    min_areas: Sequence[int] = (0,),
    target_fa: float = 10.0,
    select: str = 'mIoU',
    overwrite: bool = False,
    progress: bool = True,
) -> ParetoReport:
    """Sweep a folder of probability maps, choose the operating point and write ``out_dir``.

    ``out_dir`` receives ``pareto.csv`` (threshold, min_area, mIoU, nIoU, Pd, Fa; one row per
    point), ``pareto.png`` (Pd vs Fa and mIoU vs Fa, one curve per min_area, the chosen point
    marked) and ``operating_point.json`` (the point with the highest ``select`` among those
    with Fa <= ``target_fa``; null when none meets the budget). The folder is built beside
    ``out_dir`` and moved into place at the end.

    Args:
        prob_dir: Folder of ``<stem>.png`` (16/8-bit) or ``<stem>.npy`` probability maps.
        gt_dir: Folder of ground-truth masks ``<stem>.png`` (target where > 127).
        out_dir: Output folder.
        split: File with one stem per line (default: every PNG in ``gt_dir``).
        thresholds: Ranges ``'start:stop:step'`` (stop included) and/or single values.
        min_areas: Minimum predicted component areas (px) to sweep.
        target_fa: False-alarm budget, in units of 1e-6.
        select: Metric maximised among the points within the budget ('mIoU' or 'Pd').
        overwrite: Replace an existing non-empty ``out_dir``.
        progress: Show a progress bar on stderr.

    Returns:
        The points, the chosen one (None when none meets the budget) and the sweep's size.

    Raises:
        InputError: A missing folder or file, bad thresholds or areas, an empty set, a map
            that cannot be read or does not match its mask, or ``out_dir`` not writable.
    """
    for folder, flag in ((prob_dir, '--prob-dir'), (gt_dir, '--gt-dir')):
        if not folder.is_dir():
            raise InputError(f'{flag} {folder} is not a folder')
    if split is not None and not split.is_file():
        raise InputError(f'--split {split} is not a file')
    if any(a < 0 for a in min_areas):
        raise InputError(f'--min-areas must be >= 0, got {list(min_areas)}')
    areas = sorted(set(min_areas))
    try:
        levels = parse_thresholds(thresholds)
    except ValueError as err:
        raise InputError(f'--thresholds: {err}') from err
    check_out_dir(out_dir, overwrite)
    if not any(p.suffix in PROB_SUFFIXES for p in prob_dir.iterdir()):
        raise InputError(f'empty prediction set: no probability maps (.png/.npy) in {prob_dir}')
    stems = read_stems(gt_dir, split)
    if not stems:
        where = f'split {split} is empty' if split else f'no PNG masks in {gt_dir}'
        raise InputError(f'empty prediction set: nothing to sweep ({where})')
    prob_paths = find_probability_files(prob_dir, stems)
    points = sweep(iter_pairs(prob_paths, gt_dir, stems, progress), levels, areas)
    chosen = choose_operating_point(points, target_fa, select)
    try:
        write_outputs(out_dir, points, chosen, target_fa, select)
    except OSError as err:
        raise InputError(f'cannot write {out_dir}: {err}') from err
    return ParetoReport(points, chosen, len(stems), len(levels), len(areas))


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/analyze_pareto.py``'s work on its parsed arguments: sweep, write
    the folder, print the operating point. Returns the exit status."""
    report = analyze_pareto(
        args.prob_dir,
        args.gt_dir,
        args.out_dir,
        args.split,
        args.thresholds,
        args.min_areas,
        args.target_fa,
        args.select,
        args.overwrite,
        progress=not args.no_progress,
    )
    print(
        f'swept {report.num_images} images at {report.num_thresholds} thresholds x '
        f'{report.num_min_areas} min_areas; wrote {args.out_dir}/pareto.csv, pareto.png, '
        'operating_point.json'
    )
    if report.chosen is None:
        lowest = min((p for p in report.points if not math.isnan(p.Fa)), key=lambda p: p.Fa)
        print(
            f'no operating point has Fa <= {args.target_fa:g} x1e-6; lowest Fa: {describe(lowest)}'
        )
    else:
        print(
            f'operating point (highest {args.select} with Fa <= {args.target_fa:g} x1e-6): '
            f'{describe(report.chosen)}'
        )
    return 0
