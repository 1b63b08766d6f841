"""PAL's label rules (Yu et al., ICCV 2025, "Progressive Active Learning" for point-supervised
IRSTD): model-free initial labels, the easy/hard split, the activation of hard images and the
decayed LESPS-style update.

Conventions: points are ``(x, y)`` = (column, row); images are (H, W) grey levels; labels are
stored as 8-bit maps (0..255) and a pixel is target when its stored value is above 127.5
(:data:`BINARY_LEVEL`), the loss's binarisation.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from .label_evolution import AREA_RATIO, evolution_mask

#: Stored 8-bit labels above this are target.
BINARY_LEVEL = 127.5


def _points_array(points) -> np.ndarray:
    return np.asarray(points, dtype=np.float64).reshape(-1, 2).round().astype(np.int64)


def initial_point_mask(
    image: np.ndarray,
    point: Tuple[int, int],
    half_window: int = 10,
    canny: Tuple[float, float] = (20, 40),
    max_area: float = 50.0,
) -> Optional[np.ndarray]:
    """PAL's model-free label of one point: the filled edge contour that holds it, if small.

    In the ``2 * half_window`` square around the point (20 x 20 by default, clipped at the
    border): high-pass (image minus its 3 x 3 Gaussian blur, negatives clipped: targets are
    brighter than their surround), Canny edges with ``canny`` thresholds, 3 x 3 closing, then
    the external contours; the first one that holds the point (inside or on it) is filled if
    its area is at most ``max_area`` px.

    Args:
        image (np.ndarray): (H, W) grey levels (any real type, 0..255 range).
        point (tuple[int, int]): (x, y) inside the image.
        half_window (int): Half the window side.
        canny (tuple[float, float]): Canny's low and high thresholds.
        max_area (float): Largest contour area filled.

    Returns:
        np.ndarray | None: (H, W) bool target mask, or None when no contour holds the point or
        the one that does is larger than ``max_area``.
    """
    h, w = image.shape
    x, y = int(point[0]), int(point[1])
    y0, y1 = max(y - half_window, 0), min(y + half_window, h)
    x0, x1 = max(x - half_window, 0), min(x + half_window, w)
    win = image[y0:y1, x0:x1].astype(np.float32)
    high = win - cv2.GaussianBlur(win, (3, 3), 0)
    high = np.clip(high, 0, 255).astype(np.uint8)
    edges = cv2.Canny(high, canny[0], canny[1])
    edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    local = (float(x - x0), float(y - y0))
    for contour in contours:
        if cv2.pointPolygonTest(contour, local, False) < 0:
            continue
        if cv2.contourArea(contour) > max_area:
            return None
        filled = np.zeros(win.shape, np.uint8)
        cv2.drawContours(filled, [contour], -1, 1, thickness=cv2.FILLED)
        mask = np.zeros((h, w), bool)
        mask[y0:y1, x0:x1] = filled.astype(bool)
        return mask
    return None


def initial_label(image: np.ndarray, points, **kwargs) -> Tuple[np.ndarray, np.ndarray]:
    """PAL's initial label of an image: every point's filled contour, plus the points.

    Args:
        image (np.ndarray): (H, W) grey levels.
        points: (K, 2) integer (x, y) points inside the image.
        **kwargs: :func:`initial_point_mask` options.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W) uint8 label (0 or 255) and (K,) bool, which
        points got a contour.
    """
    pts = _points_array(points)
    label = np.zeros(image.shape, np.uint8)
    got = np.zeros(len(pts), bool)
    for i, (x, y) in enumerate(pts):
        mask = initial_point_mask(image, (x, y), **kwargs)
        if mask is not None:
            label[mask] = 255
            got[i] = True
    label[pts[:, 1], pts[:, 0]] = 255
    return label, got


def is_easy(got: np.ndarray, ratio: float = 0.8) -> bool:
    """An image is easy when at least ``ratio`` of its points got a contour (an image without
    points is easy: it trains as background)."""
    return len(got) == 0 or float(np.mean(got)) >= ratio


def miss_tolerance(progress: float, start: float = 0.2, end: float = 1.0) -> float:
    """Share of points a hard image's prediction may miss, rising linearly over the
    enhancement phase (``progress`` in [0, 1])."""
    return start + (end - start) * min(max(progress, 0.0), 1.0)


def activation_check(
    pred: np.ndarray,
    points,
    tolerance: float,
    max_false_per_point: float = 5.0,
    observed: Optional[np.ndarray] = None,
) -> Dict[str, object]:
    """Whether a hard image's prediction is good enough to train on, and its label if so.

    The prediction is binarised at 0.5; its external contours are its components. A point is
    found when a contour holds it; a contour holding no point is a false component.

    Args:
        pred (np.ndarray): (H, W) predicted probabilities.
        points: (K, 2) integer (x, y) points.
        tolerance (float): Largest share of missed points accepted.
        max_false_per_point (float): Largest number of false components per point.
        observed (np.ndarray, optional): (H, W) bool, where the prediction is known (windowed
            inference); unknown pixels count as background.

    Returns:
        dict: ``active`` (bool), ``missed`` (share of points missed), ``false`` (number of false
        components) and ``label`` ((H, W) uint8, 255 on the filled contours holding a point and
        on the points).
    """
    pts = _points_array(points)
    binary = pred > 0.5
    if observed is not None:
        binary &= observed
    contours, _ = cv2.findContours(
        binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    found = np.zeros(len(pts), bool)
    holding: List[np.ndarray] = []
    false = 0
    for contour in contours:
        inside = np.array(
            [cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in pts], bool
        )
        if inside.any():
            found |= inside
            holding.append(contour)
        else:
            false += 1
    label = np.zeros(pred.shape, np.uint8)
    if holding:
        cv2.drawContours(label, holding, -1, 255, thickness=cv2.FILLED)
    label[pts[:, 1], pts[:, 0]] = 255
    missed = float(1.0 - found.mean()) if len(pts) else 0.0
    active = missed <= tolerance + 1e-9 and false <= max_false_per_point * len(pts)
    return dict(active=bool(active), missed=missed, false=int(false), label=label)


def decayed_update(
    label: np.ndarray,
    pred: np.ndarray,
    points,
    decay: float = 0.97,
    tb: float = 0.5,
    k: float = 0.5,
    size: int = 33,
    area_ratio: float = AREA_RATIO,
    observed: Optional[np.ndarray] = None,
) -> np.ndarray:
    """PAL's label update: LESPS's rule, with the label decayed where the rule keeps nothing.

    Inside the kept candidates (:func:`evolution_mask`, components taken from the label
    binarised at 127.5) the new label is ``(old + pred) / 2``; elsewhere it is
    ``decay * old``, so an initial contour that the network does not confirm fades below the
    binarisation level; the point pixels are set to 255.

    Args:
        label (np.ndarray): (H, W) uint8 stored label.
        pred (np.ndarray): (H, W) predicted probabilities.
        points: (K, 2) integer (x, y) points.
        decay (float): Factor on the label outside the kept candidates.
        tb, k, size, area_ratio: LESPS's threshold and neighbourhood.
        observed (np.ndarray, optional): (H, W) bool, where the prediction is known; elsewhere
            it counts as 0 (never a candidate).

    Returns:
        np.ndarray: (H, W) uint8 new label (rounded).
    """
    pts = _points_array(points)
    old = label.astype(np.float32) / 255.0
    p = pred.astype(np.float32)
    if observed is not None:
        p = np.where(observed, p, 0.0)
    # the rule's components are the label's target pixels, i.e. > 127.5 of 255
    comp_label = torch.from_numpy((label > BINARY_LEVEL).astype(np.float32))
    kept = evolution_mask(
        comp_label, torch.from_numpy(p), pts, tb, k, size, float(label.size), area_ratio
    ).numpy()
    new = np.where(kept, (old + p) / 2, decay * old)
    new[pts[:, 1], pts[:, 0]] = 1.0
    return np.clip(np.round(new * 255.0), 0, 255).astype(np.uint8)


def label_quality(labels: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> Dict[str, float]:
    """Pseudo-mask figures over a set: labels (> 127.5) against true masks (> 127).

    Returns:
        dict: ``iou``, ``recall`` and ``precision`` over all pixels of the set (0 to 1).
    """
    inter = union = pred_px = true_px = 0
    for lab, mask in zip(labels, masks):
        p, t = lab > BINARY_LEVEL, mask > 127
        inter += int((p & t).sum())
        union += int((p | t).sum())
        pred_px += int(p.sum())
        true_px += int(t.sum())
    return dict(
        iou=inter / union if union else 1.0,
        recall=inter / true_px if true_px else 1.0,
        precision=inter / pred_px if pred_px else 1.0,
    )


def as_points(points: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
    """(K, 2) int64 (x, y) points from any array-like."""
    if isinstance(points, torch.Tensor):
        points = points.cpu().numpy()
    return _points_array(points)
