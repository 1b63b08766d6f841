"""Online point-to-mask targets: the GSACP propagation core.

The method is described in docs/en/method.md, 'Online targets from points' (adaptive
support: 'Adaptive support geometry').

Every point of a batch gets a square window of side ``S = 2R + 1`` centred on it. All the work
(prior gate, anchor affinity, hard margin, connected growth) happens on a ``(P, S, S)`` stack of
those windows at once, so the cost is ``O(P * S^2)`` whatever the image size, and no Python loop
runs over images or points. The only loop is over growth steps (at most ``R``), each a batched
3x3 max-pool.

Conventions shared with the rest of the package:

* ``points``: LongTensor ``(P, 3)`` with columns ``(batch_index, x, y)``; ``x`` is the column and
  ``y`` the row, in input pixels. ``P`` may be 0.
* ``image``: ``(B, 1, H, W)`` float; ``embedding``: ``(B, D, H, W)``, L2-normalised over ``D``.
* ``labels``: LongTensor ``(B, H, W)``: 0 background, 1 target, 255 ignore.
* Window pixel ``(i, j)`` of point ``(b, x, y)`` is image pixel ``(y + i - R, x + j - R)``.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

BACKGROUND = 0
TARGET = 1
IGNORE_INDEX = 255

_MODES = ('affinity', 'prior', 'point')


class PointTargets(NamedTuple):
    """Targets generated from the points of one batch.

    Attributes:
        labels: ``(B, H, W)`` long, 0 background / 1 target / 255 ignore.
        regions: ``(P, S, S)`` bool, each point's propagated target region in its window.
        ignore: ``(P, S, S)`` bool, each point's ignore band (disjoint from ``regions``).
        support: ``(P, S, S)`` bool, the point's valid window: inside the image and within its
            half sizes.
        gate: ``(P, S, S)`` bool, the prior-gate candidates within the support (computed in
            every mode, so monitors can compare modes).
        points: ``(P, 3)`` long, ``(batch_index, x, y)`` on the device of ``labels``.
        radius: window radius ``R``; windows have side ``S = 2R + 1``.
        half_sizes: ``(P, 2)`` long, each point's support half sizes ``(ry, rx)``.
    """

    labels: Tensor
    regions: Tensor
    ignore: Tensor
    support: Tensor
    gate: Tensor
    points: Tensor
    radius: int
    half_sizes: Tensor

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def window_size(self) -> int:
        return 2 * self.radius + 1


# --------------------------------------------------------------------------------------------
# Window geometry
# --------------------------------------------------------------------------------------------
def validate_points(points: Tensor, batch_size: int, height: int, width: int,
                    device: Optional[torch.device] = None) -> Tensor:
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
        raise ValueError(f'points must have shape (P, 3) as (batch_index, x, y), '
                         f'got {tuple(points.shape)}')
    if points.is_floating_point():
        raise ValueError('points must be an integer tensor of pixel indices')
    points = points.to(device=device if device is not None else points.device,
                       dtype=torch.long)
    if points.shape[0] == 0:
        return points
    b, x, y = points.unbind(1)
    bad = (b < 0) | (b >= batch_size) | (x < 0) | (x >= width) | (y < 0) | (y >= height)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        bi, xi, yi = (int(v) for v in points[i].tolist())
        if not 0 <= bi < batch_size:
            raise ValueError(f'point #{i} (x={xi}, y={yi}) has batch index {bi}, '
                             f'outside a batch of {batch_size} images')
        raise ValueError(f'point (x={xi}, y={yi}) of batch index {bi} lies outside its image '
                         f'of size H={height}, W={width}')
    return points


def window_offsets(radius: int, device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """Row and column offsets of a window, shaped to broadcast to ``(S, S)``.

    Returns:
        ``dy`` of shape ``(S, 1)`` and ``dx`` of shape ``(1, S)``, both in ``[-R, R]``.
    """
    r = torch.arange(-radius, radius + 1, device=device)
    return r.view(-1, 1), r.view(1, -1)


def window_pixels(points: Tensor, radius: int, height: int,
                  width: int) -> Tuple[Tensor, Tensor]:
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


def gather_windows(x: Tensor, points: Tensor, radius: int,
                   fill: float = 0.0) -> Tuple[Tensor, Tensor]:
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
    return t[..., radius - 1:radius + 2, radius - 1:radius + 2]


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
    peak = _center_cell(intensity, radius).masked_fill(~_center_cell(inside, radius),
                                                       float('-inf'))
    return peak.amax((1, 2), keepdim=True)


def prior_gate(intensity: Tensor, inside: Tensor, support: Tensor, ring: Tensor, radius: int,
               kappa: float = 2.0, beta: float = 0.3) -> Tensor:
    """Local-contrast candidates of each window (docs/en/method.md, 'Local image priors').

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


def propagate(seed: Tensor, candidates: Tensor, max_steps: int) -> Tensor:
    """Grow regions from the seed through 8-connected candidates (docs/en/method.md).

    ``region_{t+1} = dilate3x3(region_t) & candidates | seed``, for at most ``max_steps``
    steps, stopping early once no region in the batch changes. Several candidate maps per point
    grow in parallel as channels.

    Args:
        seed: ``(P, S, S)`` bool, always part of every region.
        candidates: ``(P, K, S, S)`` bool, ``K`` candidate maps per point.
        max_steps: Maximum number of dilation steps.

    Returns:
        ``(P, K, S, S)`` bool regions.
    """
    seed = seed.unsqueeze(1).expand_as(candidates)
    region = seed.clone()
    for _ in range(max_steps):
        grown = dilate3x3(region) & candidates | seed
        if torch.equal(grown, region):
            break
        region = grown
    return region


def adaptive_half_sizes(blob: Tensor, radius: int, r_min: int, r_max: int, scale: float = 2.0,
                        pad: int = 2) -> Tensor:
    """Per-point support half sizes from the extent of the point's own blob.

    See docs/en/method.md, 'Adaptive support geometry'.

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


def scatter_targets(regions: Tensor, ignore: Tensor, points: Tensor, radius: int,
                    shape: Tuple[int, int, int]) -> Tensor:
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
    lut = torch.tensor([BACKGROUND, IGNORE_INDEX, TARGET], dtype=torch.long, device=device)
    labels[index] = lut[labels[index]]
    return labels.view(B, H, W)


# --------------------------------------------------------------------------------------------
# Top level
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def generate_point_targets(image: Tensor,
                           embedding: Optional[Tensor],
                           points: Tensor,
                           *,
                           radius: int = 16,
                           kappa: float = 2.0,
                           beta: float = 0.3,
                           tau_pos: float = 0.8,
                           tau_neg: float = 0.5,
                           ring_width: int = 3,
                           affinity_weight: float = 1.0,
                           mode: str = 'affinity',
                           adaptive: bool = False,
                           r_min: int = 4,
                           r_max: Optional[int] = None,
                           support_scale: float = 2.0,
                           support_pad: int = 2,
                           max_steps: Optional[int] = None) -> PointTargets:
    """Turn the points of a batch into mask targets (docs/en/method.md).

    Per point: prior gate on the support window, anchor affinity blended with the warm-up
    weight ``w`` as ``s(x) = 1 - w * (1 - a(x))``, hard margin (target: gate and
    ``s >= tau_pos``; ignore candidate: gate and ``tau_neg < s < tau_pos``; background
    otherwise), then connected growth from the point.

    The ignore band is connectivity-aware: a second region grows from the point through
    target-or-ignore candidates; its pixels that are not in the target region are ignore. So an
    uncertain pixel is ignored only if it could belong to this target (reachable through
    non-background pixels), and a confident pixel reachable only through uncertain ones is
    ignored rather than called background or target. Everything else in the window is
    background: isolated uncertain clutter still gets a background label.

    Modes: ``'affinity'`` (the above), ``'prior'`` (``w = 0``: every gated pixel connected to
    the point is target; no embedding needed), ``'point'`` (only the point pixels are target,
    the point-only baseline).

    Args:
        image: ``(B, 1, H, W)`` float intensities (any positive affine normalisation).
        embedding: ``(B, D, H, W)`` L2-normalised embedding, or None when not needed
            (``'prior'``/``'point'`` modes, or ``affinity_weight == 0``).
        points: ``(P, 3)`` integer ``(batch_index, x, y)``.
        radius: Window radius ``R`` (window side ``2R + 1``) when not adaptive.
        kappa: Gate threshold over the ring mean in ring standard deviations.
        beta: Gate fraction of the point's own contrast.
        tau_pos: Target threshold on ``s``.
        tau_neg: Background threshold on ``s``.
        ring_width: Width of the ring band, in pixels.
        affinity_weight: Warm-up weight ``w`` in ``[0, 1]`` (``'affinity'`` mode only).
        mode: ``'affinity'``, ``'prior'`` or ``'point'``.
        adaptive: Use per-point adaptive support half sizes.
        r_min: Smallest adaptive half size.
        r_max: Largest adaptive half size, and the window radius when adaptive (defaults to
            ``radius``).
        support_scale: Adaptive margin factor on the blob extent.
        support_pad: Adaptive extra pixels.
        max_steps: Growth steps (defaults to the window radius).

    Returns:
        :class:`PointTargets`; no tensor in it carries gradient.

    Raises:
        ValueError: On invalid arguments, a missing embedding, or a point outside its image.
    """
    if mode not in _MODES:
        raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
    if image.dim() != 4 or image.shape[1] != 1:
        raise ValueError(f'image must have shape (B, 1, H, W), got {tuple(image.shape)}')
    if not 0.0 <= affinity_weight <= 1.0:
        raise ValueError(f'affinity_weight must be in [0, 1], got {affinity_weight}')
    if tau_neg > tau_pos:
        raise ValueError(f'tau_neg ({tau_neg}) must not exceed tau_pos ({tau_pos})')
    if ring_width < 1:
        raise ValueError(f'ring_width must be >= 1, got {ring_width}')
    r_max = radius if r_max is None else r_max
    R = r_max if adaptive else radius
    if R < 1:
        raise ValueError(f'window radius must be >= 1, got {R}')
    if adaptive and not 1 <= r_min <= r_max:
        raise ValueError(f'need 1 <= r_min <= r_max, got r_min={r_min}, r_max={r_max}')

    B, _, H, W = image.shape
    device = image.device
    image = image.detach().float()
    points = validate_points(points, B, H, W, device)
    P = points.shape[0]
    steps = R if max_steps is None else int(max_steps)
    w = 0.0 if mode == 'prior' else float(affinity_weight)
    use_affinity = mode == 'affinity' and w > 0.0
    if use_affinity:
        if embedding is None:
            raise ValueError("mode 'affinity' with affinity_weight > 0 needs an embedding")
        if embedding.dim() != 4 or embedding.shape[0] != B or embedding.shape[2:] != (H, W):
            raise ValueError(f'embedding must have shape (B, D, H, W) = ({B}, D, {H}, {W}), '
                             f'got {tuple(embedding.shape)}')

    intensity, inside = gather_windows(image, points, R)
    intensity = intensity[:, 0]
    seed = center_seed(P, R, device)
    half = torch.full((P, 2), R, dtype=torch.long, device=device)
    if adaptive:
        # The blob that sizes the support is measured with the full window's ring.
        gate_full = prior_gate(intensity, inside, inside, ring_mask(inside, half, R, ring_width),
                               R, kappa, beta)
        blob = propagate(seed, gate_full.unsqueeze(1), steps)[:, 0]
        half = adaptive_half_sizes(blob, R, r_min, r_max, support_scale, support_pad)
    support = support_mask(inside, half, R)
    ring = ring_mask(support, half, R, ring_width)
    gate = prior_gate(intensity, inside, support, ring, R, kappa, beta)

    if mode == 'point':
        regions = seed
        ignore = torch.zeros_like(seed)
    elif use_affinity:
        emb, _ = gather_windows(embedding.detach().float(), points, R)
        # Cosine to the anchor; the norm is taken in the window only, so an embedding that
        # is not exactly unit-length still gives a cosine.
        norm = emb.square().sum(1).sqrt().clamp_min(1e-12)
        emb = emb / norm.unsqueeze(1)
        anchor = window_anchor(emb, inside, R)
        affinity = torch.einsum('pdij,pd->pij', emb, anchor)
        score = 1.0 - w * (1.0 - affinity)
        target_cand = gate & (score >= tau_pos)
        maybe_cand = target_cand | (gate & (score > tau_neg))
        grown = propagate(seed, torch.stack([target_cand, maybe_cand], 1), steps)
        regions = grown[:, 0]
        ignore = grown[:, 1] & ~regions
    else:
        # w = 0: s(x) = 1 >= tau_pos, so every gated pixel is a target candidate.
        regions = propagate(seed, gate.unsqueeze(1), steps)[:, 0]
        ignore = torch.zeros_like(regions)

    labels = scatter_targets(regions, ignore, points, R, (B, H, W))
    return PointTargets(labels=labels, regions=regions, ignore=ignore, support=support,
                        gate=gate, points=points, radius=R, half_sizes=half)


# --------------------------------------------------------------------------------------------
# Monitors
# --------------------------------------------------------------------------------------------
def window_of(x: Tensor, targets: PointTargets, fill: float = 0.0) -> Tensor:
    """Gather ``x`` ``(B, C, H, W)`` in the targets' windows: ``(P, C, S, S)``."""
    return gather_windows(x, targets.points.to(x.device), targets.radius, fill)[0]


def region_area(targets: PointTargets) -> Tensor:
    """``(P,)`` long: pixels in each point's target region (1 means collapsed to the point)."""
    return targets.regions.flatten(1).sum(1)


def touches_support_edge(targets: PointTargets) -> Tensor:
    """``(P,)`` bool: the region reaches the outer edge of its support rectangle.

    Only the rectangle ``|dy| == ry`` or ``|dx| == rx`` counts; where the image border clips
    the window, touching the image border is not a sign of the region outgrowing its support.
    """
    dy, dx = window_offsets(targets.radius, targets.regions.device)
    ry = targets.half_sizes[:, 0].view(-1, 1, 1)
    rx = targets.half_sizes[:, 1].view(-1, 1, 1)
    edge = targets.support & ((dy.abs() == ry) | (dx.abs() == rx))
    return (targets.regions & edge).flatten(1).any(1)


__all__ = [
    'BACKGROUND', 'TARGET', 'IGNORE_INDEX', 'PointTargets', 'validate_points', 'window_offsets',
    'window_pixels', 'gather_windows', 'support_mask', 'ring_mask', 'ring_statistics',
    'point_peak', 'prior_gate',
    'window_anchor', 'center_seed', 'dilate3x3', 'propagate', 'adaptive_half_sizes',
    'scatter_targets', 'generate_point_targets', 'window_of', 'region_area', 'touches_support_edge'
]
