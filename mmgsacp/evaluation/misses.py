"""Why a target is missed: each truth component's outcome under the field's matching rule.

Pd counts a truth target as detected when a predicted component's centroid lies within 3 px of
its own (``match_components``). A miss can mean very different things for a method, and each
calls for a different remedy, so :func:`target_outcomes` names it:

* ``'unseen'``: no predicted pixel on the target at all: the network does not respond to it;
* ``'split'``: two or more predicted components overlap it, none with its centroid close enough;
* ``'partial'``: one component overlaps less than half of it, its centroid too far;
* ``'offset'``: one component covers at least half of it, yet its centroid is too far (merged
  with clutter or a neighbour, or taken by a neighbouring target under the greedy rule).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .functional import (
    MATCH_RADIUS,
    _as_mask,
    component_overlaps,
    label_components,
    match_components,
)

#: Outcome names, detected first.
OUTCOMES = ('hit', 'unseen', 'split', 'partial', 'offset')


class TargetOutcomes(NamedTuple):
    """One entry per truth component of an image, in the matching's raster order.

    Attributes:
        labels: ``(H, W)`` int32 truth component labels (0 background, ``i + 1`` for entry i).
        areas: ``(M,)`` int64 pixel counts.
        outcomes: ``(M,)`` int64 indices into :data:`OUTCOMES`.
        coverage: ``(M,)`` float64 share of the target's pixels that are predicted.
    """

    labels: np.ndarray
    areas: np.ndarray
    outcomes: np.ndarray
    coverage: np.ndarray


def target_outcomes(
    pred: np.ndarray, gt: np.ndarray, radius: float = MATCH_RADIUS
) -> TargetOutcomes:
    """Classify every truth target of one image as detected or by the way it is missed.

    Args:
        pred: ``(H, W)`` bool predicted target mask at original size.
        gt: ``(H, W)`` bool truth mask, same size.
        radius: Centroid match radius (px), as in Pd.

    Returns:
        :class:`TargetOutcomes`; ``outcomes == 0`` (``'hit'``) exactly where Pd counts a
        detection.

    Raises:
        ValueError: The masks differ in size or are not binary.
    """
    pred = _as_mask(pred, 'pred')
    gt = _as_mask(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and truth {gt.shape} differ in size')
    pc, gc = label_components(pred), label_components(gt)
    match = match_components(gc, pc, radius)
    covered, touch_g, _ = component_overlaps(gc, pc)
    touching = np.bincount(touch_g, minlength=gc.num)  # predicted components on each target
    outcome = np.full(gc.num, OUTCOMES.index('offset'), np.int64)
    outcome[2 * covered < gc.areas] = OUTCOMES.index('partial')
    outcome[touching >= 2] = OUTCOMES.index('split')
    outcome[covered == 0] = OUTCOMES.index('unseen')
    outcome[match >= 0] = OUTCOMES.index('hit')
    coverage = covered / np.maximum(gc.areas, 1)
    return TargetOutcomes(gc.labels, gc.areas, outcome, coverage.astype(np.float64))
