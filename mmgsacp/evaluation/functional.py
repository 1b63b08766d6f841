"""The IRSTD field's metrics (mIoU, nIoU, Pd, Fa) as pure functions.

Evaluation is split in two steps so that distributed evaluation stays cheap and exact:

1. :func:`image_stats` reduces one image (binary prediction and truth at original size) to a
   small dict of counts;
2. :func:`aggregate` turns any list of such dicts into the metrics. Integer counts are summed
   exactly and float sums use :func:`math.fsum`, so the result does not depend on the order in
   which ranks hand their results back.

Conventions (the field's, see docs/en/evaluation.md):

* prediction target pixel: probability > 0.5 (logit > 0), label 1, or saved PNG value > 127;
  truth target pixel: mask value > 127 (or label 1 in a 0/1 label map);
* mIoU: total intersection / total union over the set, in %;
* nIoU: mean over images of the per-image IoU (empty union counts 0), in %;
* Pd / Fa: 8-connected components. Each truth component, in raster order of its first pixel,
  is matched to the first remaining predicted component (same order) whose centroid lies
  strictly less than 3 px away (Euclidean); that predicted component is then used up.
  Pd = matched truth components / truth components, in %.
  Fa = (predicted pixels - pixels of matched predicted components) / all pixels, reported in
  units of 1e-6 (the value is Fa * 1e6).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmgsacp.datasets.parts import PARTS

#: Upper edges (px) of the truth-component area strata; the last stratum is open.
DEFAULT_SIZE_BINS: Tuple[int, ...] = (10, 50, 200)
#: A truth and a predicted component match when their centroids are closer than this (px).
MATCH_RADIUS: float = 3.0
#: The headline metrics, reported per set and per part.
HEADLINE_KEYS: Tuple[str, ...] = ('mIoU', 'nIoU', 'Pd', 'Fa')

# Float distances this close to the radius are re-checked in exact rational arithmetic, so
# that a centroid exactly on the circle never matches whatever the float rounding.
_TIE_TOL = 1e-6


class Components(NamedTuple):
    """8-connected components of a binary mask.

    Attributes:
        labels: (H, W) int32 label image; 0 is background, components are numbered 1..N in
            raster order of their first pixel (the order ``skimage.measure.label`` gives).
        areas: (N,) int64 pixel counts.
        coord_sums: (N, 2) int64 sums of the (row, col) coordinates of each component's pixels;
            kept as integers so centroid distances can be decided exactly.
    """

    labels: np.ndarray
    areas: np.ndarray
    coord_sums: np.ndarray

    @property
    def num(self) -> int:
        """Number of components N."""
        return int(self.areas.shape[0])

    @property
    def centroids(self) -> np.ndarray:
        """(N, 2) float64 centroids (row, col): the mean of the pixel coordinates."""
        return self.coord_sums / self.areas[:, None]


# ---------------------------------------------------------------------------------------------
# Binarisation


def mask_from_png(values: np.ndarray) -> np.ndarray:
    """Target pixels of a saved 8-bit mask or prediction: value > 127.

    Args:
        values: (H, W) array of grey values.

    Returns:
        (H, W) bool mask.
    """
    return np.asarray(values) > 127


def mask_from_logits(logits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Target pixels from segmentation logits: probability > ``threshold``.

    The probability test is done on the logits (logit > log(t / (1 - t))) in float64, because
    a float32 sigmoid rounds small positive logits to exactly 0.5 and would drop them.

    Args:
        logits: (H, W) or (1, H, W) sigmoid logits, or (2, H, W) softmax logits (background,
            target).
        threshold: Probability threshold in (0, 1).

    Returns:
        (H, W) bool mask.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f'threshold must lie in (0, 1), got {threshold}')
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 3 and logits.shape[0] == 2:
        # softmax over two classes is the sigmoid of the logit difference
        logits = logits[1] - logits[0]
    elif logits.ndim == 3 and logits.shape[0] == 1:
        logits = logits[0]
    elif logits.ndim != 2:
        raise ValueError(
            f'expected logits of shape (H, W), (1, H, W) or (2, H, W), got {logits.shape}'
        )
    return logits > math.log(threshold / (1.0 - threshold))


def mask_from_label_map(gt: np.ndarray) -> np.ndarray:
    """Target pixels of a ground-truth map that is either a 0/1 label map or a raw 0..255 mask.

    * bool: returned as is;
    * values in {0, 1}: label 1 is target;
    * otherwise a raw mask: value > 127 is target (raw IRSTD-1K masks hold grey boundary
      values, a few of them 1, next to 255).

    A map holding only 0, 1 and 255 with both 1 and 255 present is refused: it is a 0/1 label
    map with 255 padding/ignore, and scoring it would count padding as image area.

    Args:
        gt: (H, W) integer or bool array.

    Returns:
        (H, W) bool mask.
    """
    gt = np.asarray(gt)
    if gt.dtype == bool:
        return gt
    top = gt.max() if gt.size else 0
    if top <= 1:
        return gt > 0
    values = np.unique(gt)
    if np.isin(values, (0, 1, 255)).all() and 1 in values:
        raise ValueError(
            'ground truth mixes label 1 with 255: a 0/1 label map with padding or '
            'ignore pixels; pass the map cropped to the original image size'
        )
    return gt > 127


# ---------------------------------------------------------------------------------------------
# Components and matching


def _as_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """(H, W) bool or 0/1 array -> bool; anything else is refused rather than read as != 0,
    since a raw 0..255 mask or a probability map needs its own threshold first."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'{name} must be a 2-D (H, W) mask, got shape {mask.shape}')
    if mask.dtype != bool and not ((mask == 0) | (mask == 1)).all():
        raise ValueError(
            f'{name} must be bool or 0/1; binarise it first (mask_from_png, '
            'mask_from_logits, mask_from_label_map)'
        )
    return mask.astype(bool, copy=False)


def label_components(mask: np.ndarray) -> Components:
    """Label the 8-connected components of a binary mask, in raster order.

    Args:
        mask: (H, W) bool (or 0/1) mask.

    Returns:
        The :class:`Components`, numbered in raster order of each component's first pixel.
    """
    mask = _as_mask(mask, 'mask')
    count, cv_labels = cv2.connectedComponents(
        np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    n = count - 1
    if n == 0:
        return Components(
            np.zeros(mask.shape, np.int32), np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
        )
    rows, cols = np.nonzero(cv_labels)  # raster order
    fg = cv_labels[rows, cols]
    # cv2's block-based labelling does not number components in raster order; renumber them by
    # the raster position of their first pixel so the greedy matching order is the field's.
    _, first = np.unique(fg, return_index=True)
    remap = np.zeros(count, np.int32)
    remap[np.argsort(first, kind='stable') + 1] = np.arange(1, count, dtype=np.int32)
    labels = remap[cv_labels]
    fg = remap[fg]
    areas = np.bincount(fg, minlength=count)[1:].astype(np.int64)
    # float64 sums of integer coordinates are exact far beyond any image size
    row_sums = np.bincount(fg, weights=rows, minlength=count)[1:]
    col_sums = np.bincount(fg, weights=cols, minlength=count)[1:]
    coord_sums = np.stack([row_sums, col_sums], axis=1).round().astype(np.int64)
    return Components(labels, areas, coord_sums)


def _exact_within(gt: Components, i: int, pred: Components, j: int, radius: float) -> bool:
    """Decide ``|centroid_i - centroid_j| < radius`` in exact rational arithmetic."""
    a_g, a_p = int(gt.areas[i]), int(pred.areas[j])
    num = sum(
        (int(gt.coord_sums[i, k]) * a_p - int(pred.coord_sums[j, k]) * a_g) ** 2 for k in range(2)
    )
    return Fraction(num, (a_g * a_p) ** 2) < Fraction(radius) ** 2


def match_components(gt: Components, pred: Components, radius: float = MATCH_RADIUS) -> np.ndarray:
    """Match truth to predicted components with the field's greedy centroid rule.

    Each truth component, in order, takes the first still-unused predicted component (in
    order) whose centroid is strictly closer than ``radius``; that predicted component is then
    used up. It is neither the nearest one nor a globally optimal assignment: the field's rule.

    Distances within 1e-6 of ``radius`` are re-decided in exact rational arithmetic, so a
    centroid exactly ``radius`` away never matches. Plain float code can disagree on such
    ties: a centroid offset of (1.8, 2.4) px, exactly 3, evaluates to 2.9999999999999987 with
    ``np.linalg.norm`` at some positions.

    Args:
        gt: Truth components (M of them).
        pred: Predicted components (N of them).
        radius: Match radius in px (strict inequality).

    Returns:
        (M,) int64: for each truth component, the 0-based index of its predicted component, or
        -1 when it found none.
    """
    matched = np.full(gt.num, -1, dtype=np.int64)
    if gt.num == 0 or pred.num == 0:
        return matched
    diff = gt.centroids[:, None, :] - pred.centroids[None, :, :]  # (M, N, 2)
    d2 = np.einsum('mnk,mnk->mn', diff, diff)  # (M, N)
    r2 = float(radius) ** 2
    within = d2 < r2
    for i, j in np.argwhere(np.abs(d2 - r2) < _TIE_TOL):
        within[i, j] = _exact_within(gt, int(i), pred, int(j), radius)
    used = np.zeros(pred.num, dtype=bool)
    # the loop runs over truth components only (a handful per image)
    for i in np.flatnonzero(within.any(axis=1)):
        free = np.flatnonzero(within[i] & ~used)
        if free.size:
            matched[i] = free[0]
            used[free[0]] = True
    return matched


# ---------------------------------------------------------------------------------------------
# Per-image statistics and their aggregation


def _check_bins(size_bins: Sequence[int]) -> Tuple[int, ...]:
    bins = tuple(int(b) for b in size_bins)
    if any(b <= 0 for b in bins) or any(a >= b for a, b in zip(bins, bins[1:])):
        raise ValueError(f'size_bins must be positive and strictly increasing, got {size_bins}')
    return bins


def stratum_names(size_bins: Sequence[int] = DEFAULT_SIZE_BINS) -> List[str]:
    """Names of the truth-component area strata, e.g. (10, 50, 200) gives
    ``['area<10', 'area10-50', 'area50-200', 'area>=200']`` (``10-50`` means 10 <= area < 50).
    """
    bins = _check_bins(size_bins)
    if not bins:
        return ['area_all']
    names = [f'area<{bins[0]}']
    names += [f'area{lo}-{hi}' for lo, hi in zip(bins, bins[1:])]
    names.append(f'area>={bins[-1]}')
    return names


def component_overlaps(
    gt: Components, pred: Components
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which predicted components overlap which truth components, and by how much.

    Args:
        gt: Truth components (M of them).
        pred: Predicted components (N of them), same image size.

    Returns:
        ``(inter, g, p)``: ``inter`` (M,) int64, the predicted pixels inside each truth
        component; ``g`` and ``p`` (K,) int64, the 0-based indices of every overlapping
        (truth, predicted) pair, each pair once.
    """
    both = (gt.labels > 0) & (pred.labels > 0)
    g_of = gt.labels[both].astype(np.int64)
    p_of = pred.labels[both].astype(np.int64)
    inter = np.bincount(g_of, minlength=gt.num + 1)[1:]
    pairs = np.unique(g_of * (pred.num + 1) + p_of)
    return inter, pairs // (pred.num + 1) - 1, pairs % (pred.num + 1) - 1


def image_stats(
    pred: np.ndarray,
    gt: np.ndarray,
    size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
    radius: float = MATCH_RADIUS,
) -> Dict[str, Any]:
    """Reduce one image to the counts the metrics need.

    Args:
        pred: (H, W) bool predicted target mask at original size.
        gt: (H, W) bool truth target mask, same size.
        size_bins: Upper area edges (px) of the truth-component strata.
        radius: Centroid match radius (px).

    Returns:
        Dict of plain Python numbers (cheap to gather across ranks):
        ``intersection, union, pred_pixels, gt_pixels, total_pixels`` (pixel counts),
        ``gt_components, pred_components, matched_components``,
        ``matched_pred_pixels`` (pixels of the predicted components that were matched),
        ``false_pixels`` (the remaining predicted pixels, Fa's numerator),
        ``size_bins`` (tuple), and per stratum (lists, one entry per stratum):
        ``bin_targets`` (truth components), ``bin_matched`` (of them matched) and
        ``bin_ciou_sum`` (sum of component IoUs: each truth component against the union of the
        predicted components that overlap it).
    """
    pred = _as_mask(pred, 'pred')
    gt = _as_mask(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and truth {gt.shape} differ in size')
    bins = _check_bins(size_bins)
    both = pred & gt
    pc = label_components(pred)
    gc = label_components(gt)
    match = match_components(gc, pc, radius)
    hit = match >= 0
    pred_pixels = int(pc.areas.sum())
    matched_pred_pixels = int(pc.areas[match[hit]].sum())

    n_strata = len(bins) + 1
    stratum = np.searchsorted(np.asarray(bins, np.int64), gc.areas, side='right')  # (M,)
    bin_targets = np.bincount(stratum, minlength=n_strata)
    bin_matched = np.bincount(stratum[hit], minlength=n_strata)

    # Component IoU: truth component g against the union U_g of predicted components touching
    # it; |g ∪ U_g| = |g| + |U_g| - |g ∩ U_g|, and g ∩ U_g is every predicted pixel inside g.
    inter_g, touch_g, touch_p = component_overlaps(gc, pc)
    touch_area = np.bincount(touch_g, weights=pc.areas[touch_p], minlength=gc.num)
    ciou = inter_g / (gc.areas + touch_area - inter_g) if gc.num else np.zeros(0)
    bin_ciou = np.bincount(stratum, weights=ciou, minlength=n_strata)

    return dict(
        intersection=int(both.sum()),
        union=int((pred | gt).sum()),
        pred_pixels=pred_pixels,
        gt_pixels=int(gc.areas.sum()),
        total_pixels=int(pred.size),
        gt_components=gc.num,
        pred_components=pc.num,
        matched_components=int(hit.sum()),
        matched_pred_pixels=matched_pred_pixels,
        false_pixels=pred_pixels - matched_pred_pixels,
        size_bins=bins,
        bin_targets=[int(v) for v in bin_targets],
        bin_matched=[int(v) for v in bin_matched],
        bin_ciou_sum=[float(v) for v in bin_ciou],
    )


def aggregate(stats: Iterable[Mapping[str, Any]]) -> Dict[str, float]:
    """Turn per-image stats (from :func:`image_stats`) into the set's metrics.

    Args:
        stats: Per-image stats, in any order; all with the same ``size_bins``.

    Returns:
        Flat dict. ``mIoU``, ``nIoU``, ``Pd`` (%), ``Fa`` (units of 1e-6), ``images``,
        ``targets`` (truth components), ``matched``, ``false_pixels``, ``total_pixels``, and per
        stratum ``s`` of :func:`stratum_names`: ``Pd_<s>`` (%), ``cIoU_<s>`` (mean component
        IoU, %) and ``targets_<s>``. A rate whose denominator is 0 is NaN (Pd without truth
        components, Fa without images), except mIoU, which is 0 when the total union is empty,
        as nIoU counts an image with an empty union as 0.
    """
    stats = list(stats)
    bins = tuple(stats[0]['size_bins']) if stats else DEFAULT_SIZE_BINS
    if any(tuple(s['size_bins']) != bins for s in stats):
        raise ValueError('cannot aggregate stats computed with different size_bins')
    nan = float('nan')

    def total(key: str) -> int:
        return sum(int(s[key]) for s in stats)

    inter, union = total('intersection'), total('union')
    targets, matched = total('gt_components'), total('matched_components')
    false_pixels, total_pixels = total('false_pixels'), total('total_pixels')
    per_image_iou = [s['intersection'] / s['union'] if s['union'] else 0.0 for s in stats]
    out: Dict[str, float] = dict(
        mIoU=100.0 * inter / union if union else 0.0,
        nIoU=100.0 * math.fsum(per_image_iou) / len(stats) if stats else nan,
        Pd=100.0 * matched / targets if targets else nan,
        Fa=1e6 * false_pixels / total_pixels if total_pixels else nan,
        images=len(stats),
        targets=targets,
        matched=matched,
        false_pixels=false_pixels,
        total_pixels=total_pixels,
    )
    for k, name in enumerate(stratum_names(bins)):
        n = sum(int(s['bin_targets'][k]) for s in stats)
        hits = sum(int(s['bin_matched'][k]) for s in stats)
        ciou = math.fsum(float(s['bin_ciou_sum'][k]) for s in stats)
        out[f'Pd_{name}'] = 100.0 * hits / n if n else nan
        out[f'cIoU_{name}'] = 100.0 * ciou / n if n else nan
        out[f'targets_{name}'] = n
    return out


def ordered_parts(parts: Iterable[Optional[str]]) -> List[str]:
    """The distinct parts present, known SIRST3 parts first (in the field's order), then any
    others alphabetically; None (no part) is left out."""
    present = {p for p in parts if p is not None}
    return [p for p in PARTS if p in present] + sorted(present - set(PARTS))


def summarize(
    stats: Sequence[Mapping[str, Any]],
) -> Tuple[Dict[str, float], Dict[str, Dict[str, float]]]:
    """Aggregate a set and each of its parts.

    Args:
        stats: Per-image stats; each may carry a ``'part'`` key (str or None).

    Returns:
        ``(overall, per_part)``: :func:`aggregate` of all images, and of each part present (in
        :func:`ordered_parts` order).
    """
    per_part = {
        part: aggregate([s for s in stats if s.get('part') == part])
        for part in ordered_parts(s.get('part') for s in stats)
    }
    return aggregate(stats), per_part


def evaluate_masks(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    parts: Optional[Sequence[Optional[str]]] = None,
    size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
) -> Tuple[Dict[str, float], Dict[str, Dict[str, float]]]:
    """Score binary predictions against binary truths in one call.

    Args:
        preds: N (H_i, W_i) bool predicted masks at original size.
        gts: N (H_i, W_i) bool truth masks.
        parts: Optional N part names (None for images of no part).
        size_bins: Upper area edges of the truth-component strata.

    Returns:
        ``(overall, per_part)`` as :func:`summarize`.
    """
    if len(preds) != len(gts):
        raise ValueError(f'{len(preds)} predictions for {len(gts)} truths')
    if parts is not None and len(parts) != len(gts):
        raise ValueError(f'{len(parts)} parts for {len(gts)} images')
    stats = []
    for k, (p, g) in enumerate(zip(preds, gts)):
        s = image_stats(p, g, size_bins)
        s['part'] = parts[k] if parts is not None else None
        stats.append(s)
    return summarize(stats)
