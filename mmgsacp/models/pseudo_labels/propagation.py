"""Windows, prior gates and connected growth: the building blocks of the online targets.

Every point of a batch gets a square window of side ``S = 2R + 1`` centred on it. All the work
(prior gates, anchor affinity, connected growth) happens on a ``(P, S, S)`` stack of those
windows at once, so the cost is ``O(P * S^2)`` whatever the image size, and no Python loop runs
over images or points. Growth runs a fixed number of batched 3x3 dilations, so it never waits
on the host to ask whether the regions have stopped changing.

Conventions shared with the rest of the package:

* ``points``: LongTensor ``(P, 3)`` with columns ``(batch_index, x, y)``; ``x`` is the column and
  ``y`` the row, in input pixels. ``P`` may be 0.
* ``image``: ``(B, 1, H, W)`` float; ``embedding``: ``(B, D, H, W)``.
* ``labels``: LongTensor ``(B, H, W)``: 0 background, 1 target, 255 ignore.
* Window pixel ``(i, j)`` of point ``(b, x, y)`` is image pixel ``(y + i - R, x + j - R)``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

BACKGROUND = 0
TARGET = 1
IGNORE_INDEX = 255


# --------------------------------------------------------------------------------------------
# Window geometry
# --------------------------------------------------------------------------------------------
def validate_points(
    points: Tensor, batch_size: int, height: int, width: int, device: Optional[torch.device] = None
) -> Tensor:
    """Check that every point lies inside its image and return it as a long tensor.

    Args:
        points: ``(P, 3)`` integer tensor ``(batch_index, x, y)``.
        batch_size: ``B``.
        height: ``H``.
        width: ``W``.
        device: Device to move the points to (defaults to their own).

    Returns:
        ``(P, 3)`` long tensor on ``device``.

    Raises:
        ValueError: If the shape is wrong, or a point lies outside its image (the message names
            the batch index and the point).
    """
    if points.dim() != 2 or points.shape[1] != 3:
        raise ValueError(
            f'points must have shape (P, 3) as (batch_index, x, y), got {tuple(points.shape)}'
        )
    if points.is_floating_point():
        raise ValueError('points must be an integer tensor of pixel indices')
    points = points.to(device=device if device is not None else points.device, dtype=torch.long)
    if points.shape[0] == 0:
        return points
    b, x, y = points.unbind(1)
    bad = (b < 0) | (b >= batch_size) | (x < 0) | (x >= width) | (y < 0) | (y >= height)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        bi, xi, yi = (int(v) for v in points[i].tolist())
        if not 0 <= bi < batch_size:
            raise ValueError(
                f'point #{i} (x={xi}, y={yi}) has batch index {bi}, '
                f'outside a batch of {batch_size} images'
            )
        raise ValueError(
            f'point (x={xi}, y={yi}) of batch index {bi} lies outside its image '
            f'of size H={height}, W={width}'
        )
    return points


def window_offsets(radius: int, device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """Row and column offsets of a window, shaped to broadcast to ``(S, S)``.

    Returns:
        ``dy`` of shape ``(S, 1)`` and ``dx`` of shape ``(1, S)``, both in ``[-R, R]``.
    """
    r = torch.arange(-radius, radius + 1, device=device)
    return r.view(-1, 1), r.view(1, -1)


def window_pixels(points: Tensor, radius: int, height: int, width: int) -> Tuple[Tensor, Tensor]:
    """Flat in-image pixel index of every window position.

    Args:
        points: ``(P, 3)`` long ``(batch_index, x, y)``.
        radius: Window radius ``R``.
        height: Image height ``H``.
        width: Image width ``W``.

    Returns:
        ``pix``: ``(P, S, S)`` long, ``y * W + x`` of each window pixel, clamped into the image
        (positions outside the image point at the nearest border pixel and must be masked).
        ``inside``: ``(P, S, S)`` bool, the position lies inside the image.
    """
    dy, dx = window_offsets(radius, points.device)
    ys = points[:, 2].view(-1, 1, 1) + dy
    xs = points[:, 1].view(-1, 1, 1) + dx
    inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
    pix = ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1)
    return pix, inside


def gather_windows(
    x: Tensor, points: Tensor, radius: int, fill: float = 0.0
) -> Tuple[Tensor, Tensor]:
    """Gather the ``S x S`` window around each point from a batched map.

    Only the ``P`` windows are read (index arithmetic on the flattened map), never an unfold
    over the whole image. Differentiable with respect to ``x``.

    Args:
        x: ``(B, C, H, W)`` map.
        points: ``(P, 3)`` long ``(batch_index, x, y)``, inside their images.
        radius: Window radius ``R``.
        fill: Value written at window positions outside the image.

    Returns:
        ``windows``: ``(P, C, S, S)``, same dtype as ``x``.
        ``inside``: ``(P, S, S)`` bool, the position lies inside the image.
    """
    B, C, H, W = x.shape
    P = points.shape[0]
    S = 2 * radius + 1
    pix, inside = window_pixels(points, radius, H, W)
    # One flat index into the contiguous map: a single index_select is several times faster
    # than multi-tensor advanced indexing, and its backward is a plain index_add.
    channels = torch.arange(C, device=x.device).view(1, -1, 1, 1)
    index = (points[:, 0].view(-1, 1, 1, 1) * C + channels) * (H * W) + pix.unsqueeze(1)
    win = x.reshape(-1).index_select(0, index.flatten()).view(P, C, S, S)
    win = win.masked_fill(~inside.unsqueeze(1), fill)
    return win, inside


def support_mask(inside: Tensor, half_sizes: Tensor, radius: int) -> Tensor:
    """Per-point valid window: inside the image and within ``(ry, rx)`` of the point.

    Args:
        inside: ``(P, S, S)`` bool.
        half_sizes: ``(P, 2)`` long ``(ry, rx)``, each at most ``radius``.
        radius: Window radius ``R``.

    Returns:
        ``(P, S, S)`` bool.
    """
    dy, dx = window_offsets(radius, inside.device)
    ry = half_sizes[:, 0].view(-1, 1, 1)
    rx = half_sizes[:, 1].view(-1, 1, 1)
    return inside & (dy.abs() <= ry) & (dx.abs() <= rx)


def ring_mask(support: Tensor, half_sizes: Tensor, radius: int, ring_width: int) -> Tensor:
    """The ``ring_width``-px border band of each point's support (in-image pixels only).

    Args:
        support: ``(P, S, S)`` bool from :func:`support_mask`.
        half_sizes: ``(P, 2)`` long ``(ry, rx)``.
        radius: Window radius ``R``.
        ring_width: Band width in pixels.

    Returns:
        ``(P, S, S)`` bool.
    """
    dy, dx = window_offsets(radius, support.device)
    ry = half_sizes[:, 0].view(-1, 1, 1)
    rx = half_sizes[:, 1].view(-1, 1, 1)
    band = (dy.abs() > ry - ring_width) | (dx.abs() > rx - ring_width)
    return support & band


def _center_cell(t: Tensor, radius: int) -> Tensor:
    """The 3x3 cell around the window centre of a ``(..., S, S)`` tensor."""
    return t[..., radius - 1 : radius + 2, radius - 1 : radius + 2]


# --------------------------------------------------------------------------------------------
# Prior gate, anchor affinity, growth
# --------------------------------------------------------------------------------------------
def ring_statistics(intensity: Tensor, support: Tensor, ring: Tensor) -> Tuple[Tensor, Tensor]:
    """Local background mean and population std of each window, over its ring.

    A point whose ring holds no pixel (window clipped to a tiny image) falls back to its whole
    support, so the statistics stay defined.

    Args:
        intensity: ``(P, S, S)`` float window intensities.
        support: ``(P, S, S)`` bool, each point's valid window.
        ring: ``(P, S, S)`` bool, the pixels to measure on.

    Returns:
        ``mu`` and ``sigma``, each ``(P, 1, 1)``.
    """
    has_ring = ring.flatten(1).any(1).view(-1, 1, 1)
    ring = torch.where(has_ring, ring, support)
    w = ring.to(intensity.dtype)
    n = w.sum((1, 2), keepdim=True).clamp_min(1.0)
    mu = (intensity * w).sum((1, 2), keepdim=True) / n
    var = ((intensity - mu).square() * w).sum((1, 2), keepdim=True) / n
    return mu, var.sqrt()


def point_peak(intensity: Tensor, inside: Tensor, radius: int) -> Tensor:
    """``I(p)``: the maximum over each point's in-image 3x3 cell, ``(P, 1, 1)``."""
    peak = _center_cell(intensity, radius).masked_fill(~_center_cell(inside, radius), float('-inf'))
    return peak.amax((1, 2), keepdim=True)


def prior_gate(
    intensity: Tensor,
    inside: Tensor,
    support: Tensor,
    ring: Tensor,
    radius: int,
    kappa: float = 2.0,
    beta: float = 0.3,
) -> Tensor:
    """Local-contrast candidates of each window: the intensity prior.

    ``x`` is a candidate iff ``I(x) >= mu + kappa * sigma`` and
    ``I(x) - mu >= beta * (I(p) - mu)``, with ``mu``/``sigma`` the mean / population std over
    the ring and ``I(p)`` the max over the point's in-image 3x3 cell.

    Args:
        intensity: ``(P, S, S)`` float window intensities.
        inside: ``(P, S, S)`` bool, in-image positions.
        support: ``(P, S, S)`` bool, each point's valid window.
        ring: ``(P, S, S)`` bool, pixels the background statistics are measured on (see
            :func:`ring_statistics`).
        radius: Window radius ``R``.
        kappa: Contrast threshold in ring standard deviations.
        beta: Fraction of the point's own contrast a candidate must reach.

    Returns:
        ``(P, S, S)`` bool candidates, always within ``support``.
    """
    mu, sigma = ring_statistics(intensity, support, ring)
    peak = point_peak(intensity, inside, radius)
    return support & (intensity >= mu + kappa * sigma) & (intensity - mu >= beta * (peak - mu))


def window_anchor(emb_windows: Tensor, inside: Tensor, radius: int) -> Tensor:
    """Anchor embedding: mean over the point's in-image 3x3 cell, re-normalised.

    Differentiable, so the contrastive loss can use it too.

    Args:
        emb_windows: ``(P, D, S, S)`` L2-normalised embeddings (zero outside the image).
        inside: ``(P, S, S)`` bool.
        radius: Window radius ``R``.

    Returns:
        ``(P, D)`` unit vectors.
    """
    cell = _center_cell(emb_windows, radius)
    count = _center_cell(inside, radius).flatten(1).sum(1).clamp_min(1)
    mean = cell.flatten(2).sum(2) / count.unsqueeze(1).to(cell.dtype)
    return F.normalize(mean, dim=1)


def center_seed(num_points: int, radius: int, device: Optional[torch.device] = None) -> Tensor:
    """``(P, S, S)`` bool with only the window centre (the point) set."""
    S = 2 * radius + 1
    seed = torch.zeros(num_points, S, S, dtype=torch.bool, device=device)
    seed[:, radius, radius] = True
    return seed


def dilate3x3(mask: Tensor) -> Tensor:
    """Binary 3x3 dilation of the last two dims, without wrap-around at the borders.

    Separable row/column ORs on bool tensors: much cheaper on CPU than a float max-pool.

    Args:
        mask: ``(..., S, S)`` bool.

    Returns:
        ``(..., S, S)`` bool.
    """
    rows = mask.clone()
    rows[..., 1:] |= mask[..., :-1]
    rows[..., :-1] |= mask[..., 1:]
    out = rows.clone()
    out[..., 1:, :] |= rows[..., :-1, :]
    out[..., :-1, :] |= rows[..., 1:, :]
    return out


def propagate(seed: Tensor, candidates: Tensor, steps: int) -> Tensor:
    """Grow regions from a seed through 8-connected candidates, for exactly ``steps`` steps.

    ``region_{t+1} = dilate3x3(region_t) & candidates | seed``. Once the regions stop changing
    they stay put (the update is monotone and its fixed point absorbing), so running a fixed
    number of steps gives the same result as stopping early, without asking the device after
    every step whether anything changed. With ``steps`` at least the geodesic radius of a
    region (the longest 8-connected path inside ``candidates`` from the seed), the result is
    the full connected component. Several candidate maps per point grow at once as channels.

    Args:
        seed: ``(P, S, S)`` bool, always part of every region (e.g. the point alone, or a core
            blob that a band grows from).
        candidates: ``(P, K, S, S)`` bool, ``K`` candidate maps per point.
        steps: Number of dilation steps (``>= 0``).

    Returns:
        ``(P, K, S, S)`` bool regions.
    """
    return _grow(seed, candidates, steps, until_stable=False)


def propagate_until_stable(seed: Tensor, candidates: Tensor, max_steps: int) -> Tensor:
    """:func:`propagate` that stops as soon as no region in the batch changes.

    Same result as :func:`propagate` with the same cap. It checks for change on the host after
    every step, so it suits offline analysis and label maps whose cap is far above the typical
    component size (LESPS's evolution caps at the patch area); the training-time targets use
    the fixed-step form.

    Args:
        seed: ``(P, S, S)`` bool.
        candidates: ``(P, K, S, S)`` bool.
        max_steps: Largest number of dilation steps.

    Returns:
        ``(P, K, S, S)`` bool regions.
    """
    return _grow(seed, candidates, max_steps, until_stable=True)


def _grow(seed: Tensor, candidates: Tensor, steps: int, until_stable: bool) -> Tensor:
    """``region_{t+1} = dilate3x3(region_t) & candidates | seed`` for ``steps`` steps, or until
    nothing changes with ``until_stable`` (a host check per step); shapes as :func:`propagate`."""
    seed = seed.unsqueeze(1).expand_as(candidates)
    region = seed.clone()
    for _ in range(int(steps)):
        grown = dilate3x3(region) & candidates | seed
        if until_stable and torch.equal(grown, region):
            break
        region = grown
    return region


def adaptive_half_sizes(
    blob: Tensor, radius: int, r_min: int, r_max: int, scale: float = 2.0, pad: int = 2
) -> Tensor:
    """Per-point support half sizes from the extent of the point's own core blob.

    ``ry = clamp(ceil(scale * ey) + pad, r_min, r_max)`` with ``ey`` the largest row distance
    from the point to a blob pixel (same for ``rx``), so the support holds the blob with room to
    grow, and the gate's ring lies outside it.

    Args:
        blob: ``(P, S, S)`` bool, the prior-gated blob connected to each point.
        radius: Window radius ``R``.
        r_min: Smallest half size.
        r_max: Largest half size (at most ``radius``).
        scale: Margin factor on the extent.
        pad: Extra pixels beyond the scaled extent.

    Returns:
        ``(P, 2)`` long ``(ry, rx)`` in ``[r_min, r_max]``.
    """
    dy, dx = window_offsets(radius, blob.device)
    zero = torch.zeros((), dtype=torch.long, device=blob.device)
    ey = torch.where(blob, dy.abs(), zero).amax((1, 2))
    ex = torch.where(blob, dx.abs(), zero).amax((1, 2))
    extent = torch.stack([ey, ex], 1).to(torch.float32)
    half = torch.ceil(extent * scale).long() + pad
    return half.clamp(r_min, r_max)


def scatter_targets(
    regions: Tensor, ignore: Tensor, points: Tensor, radius: int, shape: Tuple[int, int, int]
) -> Tensor:
    """Write the window labels back into full-size label maps.

    Overlapping windows combine without double counting: a pixel is target if any window calls
    it target, else ignore if any calls it ignore, else background. Pixels outside every window
    are background.

    Args:
        regions: ``(P, S, S)`` bool target pixels (within the image).
        ignore: ``(P, S, S)`` bool ignore pixels (within the image).
        points: ``(P, 3)`` long ``(batch_index, x, y)``.
        radius: Window radius ``R``.
        shape: ``(B, H, W)``.

    Returns:
        ``(B, H, W)`` long labels in ``{0, 1, 255}``.
    """
    B, H, W = shape
    device = regions.device
    labels = torch.zeros(B * H * W, dtype=torch.long, device=device)
    if points.shape[0] == 0:
        return labels.view(B, H, W)
    pix, inside = window_pixels(points, radius, H, W)
    index = (points[:, 0].view(-1, 1, 1) * (H * W) + pix).flatten()
    # Priorities 2 = target > 1 = ignore > 0 = background combine with 'amax'; clamped
    # out-of-image positions carry 0 and so never change the border pixel they alias.
    prio = (regions & inside).long() * 2 + (ignore & inside & ~regions).long()
    labels.scatter_reduce_(0, index, prio.flatten(), reduce='amax')
    # Map priorities to label values only where windows wrote, not over the whole batch.
    # Scalars in torch.where, not a lookup table built with torch.tensor(..., device=device):
    # that copy from the host waits on CUDA. Repeated indices read and write the same value.
    prio = labels.gather(0, index)
    value = torch.where(prio == 2, TARGET, BACKGROUND)
    labels.scatter_(0, index, torch.where(prio == 1, IGNORE_INDEX, value))
    return labels.view(B, H, W)


__all__ = [
    'BACKGROUND',
    'TARGET',
    'IGNORE_INDEX',
    'validate_points',
    'window_offsets',
    'window_pixels',
    'gather_windows',
    'support_mask',
    'ring_mask',
    'ring_statistics',
    'point_peak',
    'prior_gate',
    'window_anchor',
    'center_seed',
    'dilate3x3',
    'propagate',
    'propagate_until_stable',
    'adaptive_half_sizes',
    'scatter_targets',
]
