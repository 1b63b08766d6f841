"""Overlays that show, at a glance, what a detector hit, missed and falsely alarmed on."""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ..evaluation.functional import label_components, match_components

#: BGR colours.
HIT = (0, 200, 0)
FALSE_ALARM = (0, 0, 255)
MISS = (0, 220, 255)


def draw_detections(
    gray: np.ndarray, pred: np.ndarray, gt: Optional[np.ndarray] = None, alpha: float = 0.6
) -> np.ndarray:
    """Colour an image's predicted components by the field's matching rule.

    The rule is described in docs/en/evaluation.md, 'Pd and Fa'.

    Args:
        gray (np.ndarray): (H, W) uint8 image.
        pred (np.ndarray): (H, W) bool prediction.
        gt (np.ndarray, optional): (H, W) bool truth. Without it, every prediction is drawn
            as a hit-coloured detection.
        alpha (float): opacity of the filled components.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR: matched predicted components filled green, unmatched
        ones (false alarms) red, and truth components nobody matched (misses) outlined yellow.
    """
    canvas = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    colour = np.zeros_like(canvas)
    pred_c = label_components(pred)
    if gt is None:
        colour[pred] = HIT
        filled = pred
    else:
        gt_c = label_components(gt)
        match = match_components(gt_c, pred_c)
        hit_ids = np.zeros(pred_c.num + 1, dtype=bool)
        hit_ids[match[match >= 0] + 1] = True
        hits = hit_ids[pred_c.labels]
        colour[hits] = HIT
        colour[pred & ~hits] = FALSE_ALARM
        filled = pred
        missed_ids = np.zeros(gt_c.num + 1, dtype=bool)
        missed_ids[np.flatnonzero(match < 0) + 1] = True
        missed = missed_ids[gt_c.labels].astype(np.uint8)
    out = canvas.copy()
    out[filled] = (alpha * colour[filled] + (1 - alpha) * canvas[filled]).astype(np.uint8)
    if gt is not None and missed.any():
        # a dilated outline keeps 1-px misses visible
        ring = cv2.dilate(missed, np.ones((5, 5), np.uint8)) - missed
        out[ring.astype(bool)] = MISS
    return out
