"""Where the embedding's negatives may come from: clutter, never a target's own extent.

Full-image maps, batched over the images of a batch:

* :func:`exclusion_zone`: pixels that may belong to some point's target: its core blob and
  outer band dilated by a margin, and a square around the point itself. No negative is taken
  there, so a rim the strict gate missed is never pushed away from its own anchor.
* :func:`false_positive_pixels`: confident predictions (probability > 0.5) in components that
  hold no point and stay clear of the exclusion zone: the clutter the network would report as
  false alarms, the negatives that matter most.
* :func:`far_from_points`: pixels farther than the window radius from every point, where the
  next negatives are sought.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .label_rule import PointTargets
from .propagation import dilate3x3, window_pixels


def _scatter_windows(masks: Tensor, points: Tensor, radius: int, shape) -> Tensor:
    """OR per-point window masks ``(P, S, S)`` (``S = 2 * radius + 1``) into ``(B, H, W)``."""
    B, H, W = shape
    # uint8, not bool: CUDA's scatter_reduce has no bool kernel.
    out = torch.zeros(B * H * W, dtype=torch.uint8, device=masks.device)
    if points.shape[0]:
        pix, inside = window_pixels(points, radius, H, W)
        index = points[:, 0].view(-1, 1, 1) * (H * W) + pix
        # Clamped out-of-image positions alias border pixels: they write 0 ('amax').
        src = (masks & inside).flatten().to(torch.uint8)
        out.scatter_reduce_(0, index.flatten(), src, reduce='amax')
    return out.view(B, H, W).bool()


def point_map(points: Tensor, shape) -> Tensor:
    """``(B, H, W)`` bool with the points set.

    Args:
        points: ``(P, 3)`` long ``(batch_index, x, y)``.
        shape: ``(B, H, W)``.
    """
    B, H, W = shape
    out = torch.zeros(B * H * W, dtype=torch.bool, device=points.device)
    # index_fill_ takes the value as a scalar; `out[idx] = True` copies it to the device and
    # waits for the copy on CUDA.
    out.index_fill_(0, points[:, 0] * (H * W) + points[:, 2] * W + points[:, 1], True)
    return out.view(B, H, W)


def exclusion_zone(targets: PointTargets, margin: int = 3, point_half: int = 4) -> Tensor:
    """Union over the points of ``dilate(C_q | A_q, margin) | square(q, 2 * point_half + 1)``.

    Built in each point's window, widened by ``max(margin, point_half - R)``, and scattered
    into the image: the cost follows the points, not the image size.

    Args:
        targets: The batch's targets (their ``core``, ``band``, ``points``).
        margin: Dilation of each point's core blob and band, in pixels.
        point_half: Half side of the square around each point (4 gives 9x9).

    Returns:
        ``(B, H, W)`` bool.
    """
    R = targets.radius
    pad = max(margin, point_half - R, 0)
    extent = F.pad(targets.core | targets.band, (pad, pad, pad, pad))
    for _ in range(margin):
        extent = dilate3x3(extent)
    offsets = torch.arange(-(R + pad), R + pad + 1, device=extent.device).abs()
    square = (offsets.view(-1, 1) <= point_half) & (offsets.view(1, -1) <= point_half)
    return _scatter_windows(extent | square, targets.points, R + pad, targets.labels.shape)


def false_positive_pixels(
    prob: Tensor, zone: Tensor, points: Tensor, steps: int, threshold: float = 0.5
) -> Tensor:
    """Pixels of confident components that hold no point and miss the exclusion zone.

    A component is dropped as a whole when it touches the zone or holds a point. Membership is
    found by flooding, from the zone and the points, through the confident pixels for a fixed
    number of steps: a component whose pixels lie farther than ``steps`` (geodesic) from its
    contact with the zone keeps those far pixels (the cost of not waiting on the host).

    Args:
        prob: ``(B, H, W)`` or ``(B, 1, H, W)`` probabilities (teacher's, else the student's,
            detached).
        zone: ``(B, H, W)`` bool exclusion zone.
        points: ``(P, 3)`` long ``(batch_index, x, y)``.
        steps: Flood steps.
        threshold: Confidence threshold.

    Returns:
        ``(B, H, W)`` bool false-positive pixels.
    """
    if prob.dim() == 4:
        prob = prob[:, 0]
    confident = prob.detach() > threshold
    reached = (zone | point_map(points, confident.shape)) & confident
    for _ in range(int(steps)):
        reached = dilate3x3(reached) & confident
    return confident & ~zone & ~reached


def far_from_points(points: Tensor, shape, radius: int) -> Tensor:
    """``(B, H, W)`` bool: farther than ``radius`` (Chebyshev) from every point of the image."""
    S = 2 * radius + 1
    window = torch.ones(points.shape[0], S, S, dtype=torch.bool, device=points.device)
    return ~_scatter_windows(window, points, radius, shape)


__all__ = ['point_map', 'exclusion_zone', 'false_positive_pixels', 'far_from_points']
