"""Threshold (and minimum blob area) sweeps over saved probability maps, as pure functions.

A sweep scores the same predictions at many operating points: binarise at probability
``> t`` for each threshold ``t``, optionally drop predicted 8-connected components smaller than
``min_area`` pixels, then score with the project's metric (:func:`image_stats` per image,
:func:`aggregate` per operating point), so every number is the one
``tools/analysis_tools/eval_masks.py`` would give for masks saved at that operating point.

Cost is kept down by scoring each distinct binary mask once: two thresholds with no pixel
value between them give the same mask, and a minimum area that removes no component gives the
mask unchanged. Trained models saturate most pixels near 0 or 1, so an image usually has only a
few distinct masks over a whole sweep.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from .functional import DEFAULT_SIZE_BINS, aggregate, image_stats, label_components

#: Metrics an operating point can be chosen by (the larger the better).
SELECT_KEYS: Tuple[str, ...] = ('mIoU', 'Pd')


class SweepPoint(NamedTuple):
    """The metrics of one operating point.

    Attributes:
        threshold: Probability threshold (target where probability > threshold).
        min_area: Predicted components smaller than this (px) were dropped.
        mIoU: In %.
        nIoU: In %.
        Pd: In % (NaN when the set has no truth component).
        Fa: In units of 1e-6.
    """

    threshold: float
    min_area: int
    mIoU: float
    nIoU: float
    Pd: float
    Fa: float


def _range(text: str) -> np.ndarray:
    """``'start:stop:step'``, stop included."""
    parts = text.split(':')
    if len(parts) != 3:
        raise ValueError(f"threshold range must be 'start:stop:step', got {text!r}")
    start, stop, step = (float(p) for p in parts)
    if step <= 0 or stop < start:
        raise ValueError(f'threshold range {text!r} needs step > 0 and stop >= start')
    # Rounded so that 0.05:0.95:0.05 gives exactly 0.05, 0.1, ... 0.95 (no 0.30000000004)
    # and a stop that float steps undershoot by a hair is still included.
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    return np.round(start + step * np.arange(count), 12)


def parse_thresholds(spec: Union[str, Sequence[Union[str, float]]]) -> np.ndarray:
    """Thresholds from ranges ``'start:stop:step'`` (stop included) and single values.

    Args:
        spec: A string of items separated by commas or spaces, or a sequence of items (strings
            or numbers); each item is a range such as ``'0.05:0.95:0.05'`` or one value, so
            ``['0.05:0.95:0.05', '0.99']`` adds a finer tail to a coarse grid.

    Returns:
        (T,) float64, sorted ascending, duplicates removed, every value in [0, 1).

    Raises:
        ValueError: On a malformed item, an empty result or a value outside [0, 1).
    """
    items = [spec] if isinstance(spec, str) else list(spec)
    chunks = []
    for item in items:
        if not isinstance(item, str):
            chunks.append(np.asarray([float(item)], np.float64))
            continue
        for text in re.split(r'[,\s]+', item.strip()):
            if text:
                chunks.append(
                    _range(text) if ':' in text else np.asarray([float(text)], np.float64)
                )
    values = np.unique(np.concatenate(chunks)) if chunks else np.empty(0)
    if values.size == 0:
        raise ValueError('no thresholds given')
    if not np.isfinite(values).all() or values[0] < 0.0 or values[-1] >= 1.0:
        raise ValueError(f'thresholds must lie in [0, 1), got {values.tolist()}')
    return values


def threshold_levels(prob: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many thresholds each pixel exceeds.

    Pixel x is a target at ``thresholds[k]`` exactly when ``levels[x] > k``, so one pass over
    the image replaces T comparisons.

    Args:
        prob: (H, W) probabilities.
        thresholds: (T,) ascending thresholds.

    Returns:
        (H, W) int64 levels in [0, T].
    """
    # side='left' counts the thresholds strictly below each value: prob > t, never >=.
    return np.searchsorted(
        np.asarray(thresholds, np.float64), np.asarray(prob, np.float64), side='left'
    )


def remove_small_components(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop the 8-connected components of ``mask`` smaller than ``min_area`` pixels.

    Args:
        mask: (H, W) bool mask.
        min_area: Smallest area (px) kept; 0 or 1 keeps everything.

    Returns:
        (H, W) bool mask.
    """
    comps = label_components(mask)
    keep = np.concatenate([[False], comps.areas >= int(min_area)])
    return keep[comps.labels]


def sweep_image_stats(
    prob: np.ndarray,
    gt: np.ndarray,
    thresholds: np.ndarray,
    min_areas: Sequence[int] = (0,),
    size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
) -> List[List[Dict[str, Any]]]:
    """Per-image stats of one image at every (threshold, min_area) operating point.

    Args:
        prob: (H, W) probabilities at original size.
        gt: (H, W) bool truth mask.
        thresholds: (T,) ascending thresholds (see :func:`parse_thresholds`).
        min_areas: A non-negative minimum component area (px) per sweep column.
        size_bins: Truth-component strata, as :func:`image_stats`.

    Returns:
        T lists of len(min_areas) :func:`image_stats` dicts. Operating points with the same
        binary mask share one dict object (treat them as read-only).
    """
    thresholds = np.asarray(thresholds, np.float64)
    if prob.shape != gt.shape:
        raise ValueError(f'probability map {prob.shape} and truth {gt.shape} differ in size')
    if any(int(a) < 0 for a in min_areas):
        raise ValueError(f'min_areas must be >= 0, got {list(min_areas)}')
    levels = threshold_levels(prob, thresholds)
    # thresholds k-1 and k give the same mask unless some pixel has level exactly k
    present = np.bincount(levels.ravel(), minlength=thresholds.size + 1).astype(bool)
    out: List[List[Dict[str, Any]]] = []
    cache: Dict[Tuple[int, bytes], Dict[str, Any]] = {}
    group = -1
    mask = comps = None
    for k in range(thresholds.size):
        if k == 0 or present[k]:
            group = k
            mask = levels > k
            comps = label_components(mask)
        row = []
        for area in min_areas:
            keep = comps.areas >= int(area)
            key = (group, keep.tobytes())
            if key not in cache:
                kept = mask if keep.all() else np.concatenate([[False], keep])[comps.labels]
                cache[key] = image_stats(kept, gt, size_bins)
            row.append(cache[key])
        out.append(row)
    return out


def sweep(
    pairs: Iterable[Tuple[np.ndarray, np.ndarray]],
    thresholds: np.ndarray,
    min_areas: Sequence[int] = (0,),
    size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
) -> List[SweepPoint]:
    """Score a set of probability maps at every (threshold, min_area) operating point.

    Pairs are consumed one at a time, so a generator keeps only one image in memory; for
    lists use ``sweep(zip(probs, gts), ...)``.

    Args:
        pairs: N ``(prob, gt)``: (H_i, W_i) probabilities at original size and the (H_i, W_i)
            bool truth mask.
        thresholds: (T,) ascending thresholds (see :func:`parse_thresholds`).
        min_areas: Minimum predicted component areas (px), one sweep column each.
        size_bins: Truth-component strata.

    Returns:
        T * len(min_areas) points, threshold-major (all min_areas of the first threshold, ...).

    Raises:
        ValueError: When the set is empty.
    """
    thresholds = np.asarray(thresholds, np.float64)
    n_areas = len(min_areas)
    per_point: List[List[Mapping[str, Any]]] = [[] for _ in range(thresholds.size * n_areas)]
    count = 0
    for prob, gt in pairs:
        grid = sweep_image_stats(prob, gt, thresholds, min_areas, size_bins)
        for k, row in enumerate(grid):
            for j, stats in enumerate(row):
                per_point[k * n_areas + j].append(stats)
        count += 1
    if count == 0:
        raise ValueError('cannot sweep an empty set of predictions')
    points = []
    for k, t in enumerate(thresholds):
        for j, area in enumerate(min_areas):
            agg = aggregate(per_point[k * n_areas + j])
            points.append(
                SweepPoint(
                    float(t),
                    int(area),
                    float(agg['mIoU']),
                    float(agg['nIoU']),
                    float(agg['Pd']),
                    float(agg['Fa']),
                )
            )
    return points


def choose_operating_point(
    points: Sequence[SweepPoint], max_fa: float, select: str = 'mIoU'
) -> Optional[SweepPoint]:
    """The best operating point whose false-alarm rate stays within a budget.

    Among the points with ``Fa <= max_fa`` the one with the highest ``select`` metric wins;
    ties go to the lower Fa, then the higher other metric (Pd for mIoU and vice versa), then
    the smaller min_area and the lower threshold, so the choice is deterministic.

    Args:
        points: Sweep results.
        max_fa: False-alarm budget, in units of 1e-6 (as ``SweepPoint.Fa``).
        select: 'mIoU' or 'Pd'.

    Returns:
        The chosen point, or None when no point meets the budget.
    """
    if select not in SELECT_KEYS:
        raise ValueError(f'select must be one of {SELECT_KEYS}, got {select!r}')
    other = 'Pd' if select == 'mIoU' else 'mIoU'

    def score(v: float) -> float:
        return -math.inf if math.isnan(v) else v

    feasible = [p for p in points if not math.isnan(p.Fa) and p.Fa <= max_fa]
    if not feasible:
        return None
    return min(
        feasible,
        key=lambda p: (
            -score(getattr(p, select)),
            p.Fa,
            -score(getattr(p, other)),
            p.min_area,
            p.threshold,
        ),
    )
