"""Online point-to-mask targets: the label rule that turns points into pseudo-masks.

Per point, inside its window (see :mod:`.propagation` for the geometry and conventions):

1. **Prior gates.** The window's border ring gives the local background mean and std, the
   point's 3x3 cell its peak. A *core gate* (strict contrast) and a *loose gate* (relaxed
   contrast) are evaluated with the same statistics.
2. **Core blob and outer band.** The core blob ``C_p`` is the 8-connected core-gated component
   holding the point (plus the point). The outer band ``A_p`` is what a few steps of 8-connected
   growth from ``C_p`` through loose-gated pixels add to it: the rim a strict gate misses and
   only part of which is target.
3. **Affinity.** ``a(x)`` is the cosine between the embedding at ``x`` and the anchor, the
   re-normalised mean over the point's 3x3 cell (``affinity_scale='ring'`` rescales it per point
   so that the window's background ring scores 0 and its core blob 1). During warm-up
   the score blends from what the prior says to the affinity: ``s = s0 + w * (a - s0)`` with
   ``w`` rising from 0 to 1, where ``s0 = 1`` in the core (so ``s = 1 - w * (1 - a)``) and
   ``s0 = band_prior`` in the band.
4. **Labels.** The affinity may make a core pixel *ignored* (``s <= tau_neg``) but never
   background; a band pixel is a target candidate if ``s >= tau_pos``, background if
   ``s <= tau_neg``, ignored in between (with ``band_source='ignore'`` every band pixel is
   ignored: nothing decides the rim); every other window pixel is background.
5. **Growth.** The region grows from the point through target candidates for a fixed number of
   steps. Core candidates it does not reach are ignored, band candidates it does not reach are
   background. A region larger than ``band_limit * |C_p|`` has leaked: its band is ignored.

``rule='v1'`` keeps the first form of the method (one gate, every pixel failing it background,
a hard affinity margin, an ignore band grown through uncertain pixels), for ablations. Both
rules share ``mode='prior'`` (the core blob is the target: the prior-only baseline) and
``mode='point'`` (the point pixels alone).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .propagation import (
    adaptive_half_sizes,
    center_seed,
    gather_windows,
    point_peak,
    propagate,
    ring_mask,
    ring_statistics,
    scatter_targets,
    support_mask,
    validate_points,
    window_anchor,
    window_offsets,
)

MODES = ('affinity', 'prior', 'point')
RULES = ('v2', 'v1')
AFFINITY_SCALES = ('ring', 'cosine')
BAND_SOURCES = ('affinity', 'prediction', 'ignore')


class PointTargets(NamedTuple):
    """Targets generated from the points of one batch.

    Attributes:
        labels: ``(B, H, W)`` long, 0 background / 1 target / 255 ignore.
        regions: ``(P, S, S)`` bool, each point's target pixels in its window.
        ignore: ``(P, S, S)`` bool, each point's ignored pixels (disjoint from ``regions``).
        support: ``(P, S, S)`` bool, the point's valid window: inside the image and within its
            half sizes.
        gate: ``(P, S, S)`` bool, the (core) prior-gate candidates within the support, computed
            in every mode so monitors can compare modes.
        core: ``(P, S, S)`` bool, the core blob ``C_p`` (the gated component holding the point).
        band: ``(P, S, S)`` bool, the outer band ``A_p`` (empty under ``rule='v1'``).
        points: ``(P, 3)`` long, ``(batch_index, x, y)`` on the device of ``labels``.
        radius: window radius ``R``; windows have side ``S = 2R + 1``.
        half_sizes: ``(P, 2)`` long, each point's support half sizes ``(ry, rx)``.
    """

    labels: Tensor
    regions: Tensor
    ignore: Tensor
    support: Tensor
    gate: Tensor
    core: Tensor
    band: Tensor
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
# Pieces of the rule (pure, batched over points)
# --------------------------------------------------------------------------------------------
def contrast_gates(
    intensity: Tensor,
    inside: Tensor,
    support: Tensor,
    ring: Tensor,
    radius: int,
    kappa: float,
    beta: float,
    kappa_band: float,
    beta_band: float,
) -> Tuple[Tensor, Tensor]:
    """The strict (core) and loose (band) local-contrast gates, from one set of statistics.

    ``x`` passes a gate ``(k, b)`` iff ``I(x) >= mu + k * sigma`` and
    ``I(x) - mu >= b * (I(p) - mu)``, with ``mu``/``sigma`` measured on the ring and ``I(p)``
    the peak of the point's 3x3 cell.

    Args:
        intensity: ``(P, S, S)`` float window intensities.
        inside: ``(P, S, S)`` bool, in-image positions.
        support: ``(P, S, S)`` bool, each point's valid window.
        ring: ``(P, S, S)`` bool, the background band the statistics come from.
        radius: Window radius ``R``.
        kappa, beta: Core gate.
        kappa_band, beta_band: Loose gate.

    Returns:
        ``(core_gate, loose_gate)``, each ``(P, S, S)`` bool within ``support``.
    """
    mu, sigma = ring_statistics(intensity, support, ring)
    peak = point_peak(intensity, inside, radius)
    core = support & (intensity >= mu + kappa * sigma) & (intensity - mu >= beta * (peak - mu))
    loose = (
        support
        & (intensity >= mu + kappa_band * sigma)
        & (intensity - mu >= beta_band * (peak - mu))
    )
    return core, loose


def core_and_band(
    seed: Tensor, core_gate: Tensor, loose_gate: Tensor, steps: int, band_steps: int
) -> Tuple[Tensor, Tensor]:
    """Core blob ``C_p`` and outer band ``A_p`` of every point.

    Args:
        seed: ``(P, S, S)`` bool, the window centre.
        core_gate: ``(P, S, S)`` bool.
        loose_gate: ``(P, S, S)`` bool.
        steps: Growth steps of the core blob (the window radius reaches every window pixel
            that a straight path joins to the point).
        band_steps: Growth steps of the band from the core blob.

    Returns:
        ``(core, band)``, each ``(P, S, S)`` bool; disjoint; the core always holds the point.
    """
    core = propagate(seed, core_gate.unsqueeze(1), steps)[:, 0]
    reached = propagate(core, loose_gate.unsqueeze(1), band_steps)[:, 0]
    return core, reached & ~core


def prior_blind(core: Tensor, min_core: int) -> Tensor:
    """``(P,)`` bool: the points whose core blob ``(P, S, S)`` holds fewer than ``min_core`` px,
    the ones the prior cannot see."""
    return core.flatten(1).sum(1) < min_core


def gated_blobs(
    intensity: Tensor,
    inside: Tensor,
    seed: Tensor,
    radius: int,
    steps: int,
    kappa: float,
    beta: float,
    *,
    kappa_band: float,
    beta_band: float,
    band_steps: int,
    ring_width: int,
    adaptive: bool,
    r_min: int,
    r_max: int,
    support_scale: float,
    support_pad: int,
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Support, gates, core blob and band of every point, for one core gate ``(kappa, beta)``.

    Args:
        intensity: ``(P, S, S)`` float window intensities.
        inside: ``(P, S, S)`` bool, in-image positions.
        seed: ``(P, S, S)`` bool, the window centre.
        radius: Window radius ``R``.
        steps: Growth steps of the core blob.
        kappa, beta: Core gate.
        kappa_band, beta_band: Loose gate.
        band_steps: Growth steps of the band (0: no band).
        ring_width: Width of the ring band.
        adaptive, r_min, r_max, support_scale, support_pad: Adaptive support, as in
            :func:`generate_point_targets`.

    Returns:
        ``(half_sizes, support, ring, core_gate, core, band)``: ``(P, 2)`` long, then
        ``(P, S, S)`` bool each.
    """
    P = intensity.shape[0]
    half = torch.full((P, 2), radius, dtype=torch.long, device=intensity.device)
    if adaptive:
        # The blob that sizes the support is measured with the full window's ring.
        full_ring = ring_mask(inside, half, radius, ring_width)
        gate_full, _ = contrast_gates(
            intensity, inside, inside, full_ring, radius, kappa, beta, kappa, beta
        )
        blob = propagate(seed, gate_full.unsqueeze(1), steps)[:, 0]
        half = adaptive_half_sizes(blob, radius, r_min, r_max, support_scale, support_pad)
    support = support_mask(inside, half, radius)
    ring = ring_mask(support, half, radius, ring_width)
    gate, loose = contrast_gates(
        intensity, inside, support, ring, radius, kappa, beta, kappa_band, beta_band
    )
    core, band = core_and_band(seed, gate, loose, steps, band_steps)
    return half, support, ring, gate, core, band


def anchor_affinity(embedding: Tensor, points: Tensor, inside: Tensor, radius: int) -> Tensor:
    """Cosine of every window pixel to the point's anchor.

    The pixels are L2-normalised in the window only (the map is never normalised whole), the
    anchor is the re-normalised mean of the point's in-image 3x3 cell.

    Args:
        embedding: ``(B, D, H, W)`` embedding (any scale per pixel).
        points: ``(P, 3)`` long ``(batch_index, x, y)``.
        inside: ``(P, S, S)`` bool, in-image positions.
        radius: Window radius ``R``.

    Returns:
        ``(P, S, S)`` float cosines in ``[-1, 1]`` (0 outside the image).
    """
    emb, _ = gather_windows(embedding.float(), points, radius)
    emb = emb / emb.square().sum(1, keepdim=True).sqrt().clamp_min(1e-12)
    anchor = window_anchor(emb, inside, radius)
    return torch.einsum('pdij,pd->pij', emb, anchor)


def ring_scaled_affinity(
    affinity: Tensor, core: Tensor, ring: Tensor, min_gap: float = 0.05
) -> Tensor:
    """Affinity rescaled so the local background scores 0 and the core blob 1.

    Cosines between post-ReLU features are all positive and crowd near 1, so an absolute
    threshold on them admits clutter as readily as target. Per point, ``a`` is measured against
    the window's own references instead: ``(a - mean_ring(a)) / (mean_core(a) - mean_ring(a))``,
    the gap clamped from below so a point whose core and background look alike scores near 0
    (abstain) rather than dividing by noise. Clamped to ``[-1, 1]``.

    Args:
        affinity: ``(P, S, S)`` float anchor cosines.
        core: ``(P, S, S)`` bool core blob ``C_p``.
        ring: ``(P, S, S)`` bool background ring of the support.
        min_gap: Smallest core-to-ring gap the scale divides by.

    Returns:
        ``(P, S, S)`` float in ``[-1, 1]``.
    """
    r = ring.to(affinity.dtype)
    c = core.to(affinity.dtype)
    a_bg = (affinity * r).sum((1, 2), keepdim=True) / r.sum((1, 2), keepdim=True).clamp_min(1.0)
    a_core = (affinity * c).sum((1, 2), keepdim=True) / c.sum((1, 2), keepdim=True).clamp_min(1.0)
    gap = (a_core - a_bg).clamp_min(min_gap)
    return ((affinity - a_bg) / gap).clamp(-1.0, 1.0)


def two_level_labels(
    seed: Tensor,
    core: Tensor,
    band: Tensor,
    support: Tensor,
    affinity: Tensor,
    weight: float,
    *,
    tau_pos: float,
    tau_neg: float,
    band_prior: float,
    band_limit: float,
    steps: int,
    band_score: Optional[Tensor] = None,
    band_tau: Optional[Tuple[float, float]] = None,
    ignore_band: bool = False,
) -> Tuple[Tensor, Tensor]:
    """The revision-2 label rule on a stack of windows.

    Args:
        seed: ``(P, S, S)`` bool, the point.
        core: ``(P, S, S)`` bool core blob ``C_p``.
        band: ``(P, S, S)`` bool outer band ``A_p``.
        support: ``(P, S, S)`` bool valid window.
        affinity: ``(P, S, S)`` float anchor cosines ``a``.
        weight: Warm-up weight ``w`` in ``[0, 1]``.
        tau_pos: Band pixels with ``s >= tau_pos`` are target candidates.
        tau_neg: Core pixels with ``s <= tau_neg`` are ignored, band pixels background.
        band_prior: The band's score before the affinity fades in (``w = 0``).
        band_limit: A region larger than ``band_limit * |C_p|`` ignores its band.
        steps: Growth steps from the point.
        band_score: ``(P, S, S)`` float evidence that decides the band instead of the affinity
            (the network's own detached probability, ``band_source='prediction'``); None: the
            affinity decides it.
        band_tau: ``(tau_pos, tau_neg)`` of the band when ``band_score`` is given (defaults to
            the affinity's).
        ignore_band: Every band pixel is ignored, whatever the score (``band_source='ignore'``):
            the loss abstains on the rim instead of deciding it.

    Returns:
        ``(regions, ignore)``, each ``(P, S, S)`` bool, disjoint, within ``support``.
    """
    s_core = 1.0 - weight * (1.0 - affinity)
    evidence = affinity if band_score is None else band_score
    b_pos, b_neg = (tau_pos, tau_neg) if band_tau is None or band_score is None else band_tau
    s_band = band_prior + weight * (evidence - band_prior)
    if ignore_band:
        band_target, band_unsure = torch.zeros_like(band), band
    else:
        band_target = band & (s_band >= b_pos)
        band_unsure = band & (s_band > b_neg) & ~band_target
    candidates = (core & (s_core > tau_neg)) | band_target
    region = propagate(seed, candidates.unsqueeze(1), steps)[:, 0]
    core_area = core.flatten(1).sum(1).view(-1, 1, 1)
    leaked = region.flatten(1).sum(1).view(-1, 1, 1) > band_limit * core_area
    band_ignored = band & leaked
    regions = region & ~band_ignored
    ignore = support & ~regions & (core | band_ignored | band_unsure)
    return regions, ignore


def threshold_labels(
    seed: Tensor,
    gate: Tensor,
    affinity: Tensor,
    weight: float,
    *,
    tau_pos: float,
    tau_neg: float,
    steps: int,
) -> Tuple[Tensor, Tensor]:
    """The first form's label rule: one gate, a hard affinity margin, everything else background.

    Target: gated and ``s >= tau_pos``, grown from the point. Ignore: gated pixels with
    ``s > tau_neg`` reached from the point through target-or-uncertain pixels but not in the
    target region. With ``s = 1 - w * (1 - a)``.

    Args:
        seed: ``(P, S, S)`` bool.
        gate: ``(P, S, S)`` bool.
        affinity: ``(P, S, S)`` float.
        weight: Warm-up weight ``w``.
        tau_pos, tau_neg: The margin.
        steps: Growth steps.

    Returns:
        ``(regions, ignore)``, each ``(P, S, S)`` bool.
    """
    score = 1.0 - weight * (1.0 - affinity)
    target_cand = gate & (score >= tau_pos)
    maybe_cand = target_cand | (gate & (score > tau_neg))
    grown = propagate(seed, torch.stack([target_cand, maybe_cand], 1), steps)
    return grown[:, 0], grown[:, 1] & ~grown[:, 0]


# --------------------------------------------------------------------------------------------
# Top level
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def generate_point_targets(
    image: Tensor,
    embedding: Optional[Tensor],
    points: Tensor,
    *,
    rule: str = 'v2',
    mode: str = 'affinity',
    radius: int = 16,
    kappa: float = 2.0,
    beta: float = 0.3,
    kappa_band: float = 1.0,
    beta_band: float = 0.15,
    band_steps: int = 2,
    band_prior: float = 0.0,
    band_limit: float = 2.0,
    tau_pos: float = 0.8,
    tau_neg: float = 0.5,
    affinity_scale: str = 'cosine',
    band_source: str = 'affinity',
    band_tau: Tuple[float, float] = (0.5, 0.2),
    band_evidence: Optional[Tensor] = None,
    min_core: int = 0,
    fallback_gates: Sequence[Tuple[float, float]] = (),
    ring_width: int = 3,
    affinity_weight: float = 1.0,
    adaptive: bool = False,
    r_min: int = 4,
    r_max: Optional[int] = None,
    support_scale: float = 2.0,
    support_pad: int = 2,
    steps: Optional[int] = None,
    check_points: bool = True,
) -> PointTargets:
    """Turn the points of a batch into mask targets (see the module docstring for the rule).

    Every step runs batched over all points; growth runs a fixed number of steps, so nothing
    here waits on the device (unless ``check_points`` validates the points first).

    Args:
        image: ``(B, 1, H, W)`` float intensities (any positive affine normalisation).
        embedding: ``(B, D, H, W)`` embedding the affinity is measured on, or None when not
            needed (``'prior'``/``'point'`` modes, or ``affinity_weight == 0``).
        points: ``(P, 3)`` integer ``(batch_index, x, y)``.
        rule: ``'v2'`` (core blob and outer band) or ``'v1'`` (the first form, one gate).
        mode: ``'affinity'``, ``'prior'`` (the core blob is the target, no embedding) or
            ``'point'`` (only the point pixels are target).
        radius: Window radius ``R`` (window side ``2R + 1``) when not adaptive.
        kappa: Core gate threshold over the ring mean, in ring standard deviations (the one
            gate of ``'v1'``).
        beta: Core gate fraction of the point's own contrast.
        kappa_band: Loose gate's ``kappa`` (``'v2'``).
        beta_band: Loose gate's ``beta`` (``'v2'``).
        band_steps: Growth steps from the core blob that make the band (``'v2'``).
        band_prior: The band's score at ``w = 0`` (``'v2'``). The default 0 makes the band
            background until the affinity fades in, so the warm-up start equals the prior-only
            targets; 1 would make the whole band target at ``w = 0``.
        band_limit: A region larger than ``band_limit * |C_p|`` ignores its band (``'v2'``).
        tau_pos: Target threshold on ``s``.
        tau_neg: Abstain (core) / background (band) threshold on ``s``.
        affinity_scale: ``'cosine'``: the thresholds apply to the raw cosine; ``'ring'``
            (``'v2'``): to the cosine rescaled between the window's background ring (0) and its
            core blob (1), see :func:`ring_scaled_affinity` (an ablation: it did not make the
            band's selection better than the raw cosine, see the experiments guide).
        band_source: What decides the outer band (``'v2'``): ``'affinity'`` (the anchor
            cosine, thresholds ``tau_pos``/``tau_neg``) or ``'prediction'`` (the network's own
            detached probability ``band_evidence``, thresholds ``band_tau``; the core still
            abstains by the affinity) or ``'ignore'`` (every band pixel ignored, in ``'prior'``
            mode too: the rim the loose gate finds is neither taught as target nor as
            background). Ablations measured in the experiments guide.
        band_tau: ``(target, background)`` thresholds on the probability for
            ``band_source='prediction'``.
        band_evidence: ``(B, 1, H, W)`` probabilities in ``[0, 1]`` (the EMA teacher's, or the
            student's, detached), needed by ``band_source='prediction'`` once the warm-up
            weight is above 0.
        min_core: A point whose core blob holds fewer pixels than this is one the prior cannot
            see (a target too dim for its clutter): the rest of its support is ignored instead
            of background, so the target's body is not taught as background; the point stays
            target. 0 (the default) turns it off; not in ``'point'`` mode.
        fallback_gates: Looser ``(kappa, beta)`` core gates, strictest first, tried in turn on
            the points whose core blob is still under ``min_core`` px: such a point takes the
            core blob (and support, when adaptive) of the first gate that sees it, so a target
            too dim for the strict gate gets positives instead of silence. Needs ``min_core``.
        ring_width: Width of the ring band, in pixels.
        affinity_weight: Warm-up weight ``w`` in ``[0, 1]`` (``'affinity'`` mode only).
        adaptive: Per-point support half sizes from the extent of the core blob.
        r_min: Smallest adaptive half size.
        r_max: Largest adaptive half size, and the window radius when adaptive (defaults to
            ``radius``).
        support_scale: Adaptive margin factor on the blob extent.
        support_pad: Adaptive extra pixels.
        steps: Growth steps from the point (defaults to the window radius).
        check_points: Validate the points (a device-to-host read); callers whose points are
            already checked (the head: :func:`stack_points`, without a read-back) skip it.

    Returns:
        :class:`PointTargets`; no tensor in it carries gradient.

    Raises:
        ValueError: On invalid arguments, a missing embedding, or a point outside its image.
    """
    if rule not in RULES:
        raise ValueError(f'target rule must be one of {RULES}, got {rule!r}')
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if image.dim() != 4 or image.shape[1] != 1:
        raise ValueError(f'image must have shape (B, 1, H, W), got {tuple(image.shape)}')
    if not 0.0 <= affinity_weight <= 1.0:
        raise ValueError(f'affinity_weight must be in [0, 1], got {affinity_weight}')
    if tau_neg > tau_pos:
        raise ValueError(f'tau_neg ({tau_neg}) must not exceed tau_pos ({tau_pos})')
    if affinity_scale not in AFFINITY_SCALES:
        raise ValueError(f'affinity_scale must be one of {AFFINITY_SCALES}, got {affinity_scale!r}')
    if band_source not in BAND_SOURCES:
        raise ValueError(f'band_source must be one of {BAND_SOURCES}, got {band_source!r}')
    if not 0.0 <= band_tau[1] <= band_tau[0] <= 1.0:
        raise ValueError(
            f'band_tau must be (target, background) with 0 <= background <= '
            f'target <= 1, got {tuple(band_tau)}'
        )
    if ring_width < 1:
        raise ValueError(f'ring_width must be >= 1, got {ring_width}')
    if min_core < 0:
        raise ValueError(f'min_core must be >= 0, got {min_core}')
    fallback_gates = [tuple(float(v) for v in g) for g in fallback_gates]
    if fallback_gates and min_core == 0:
        raise ValueError('fallback_gates apply to points under min_core px: set min_core > 0')
    if any(len(g) != 2 or g[0] < 0 or not 0 <= g[1] <= 1 for g in fallback_gates):
        raise ValueError(
            f'fallback_gates must be (kappa >= 0, 0 <= beta <= 1) pairs, got {fallback_gates}'
        )
    if band_steps < 0 or band_limit <= 0:
        raise ValueError(f'need band_steps >= 0 and band_limit > 0, got {band_steps}, {band_limit}')
    r_max = radius if r_max is None else r_max
    R = r_max if adaptive else radius
    if R < 1:
        raise ValueError(f'window radius must be >= 1, got {R}')
    if adaptive and not 1 <= r_min <= r_max:
        raise ValueError(f'need 1 <= r_min <= r_max, got r_min={r_min}, r_max={r_max}')

    B, _, H, W = image.shape
    device = image.device
    image = image.detach().float()
    if check_points:
        points = validate_points(points, B, H, W, device)
    else:
        points = points.to(device=device, dtype=torch.long)
    P = points.shape[0]
    n_steps = R if steps is None else int(steps)
    w = float(affinity_weight) if mode == 'affinity' else 0.0
    if mode == 'affinity' and w > 0.0:
        if embedding is None:
            raise ValueError("mode 'affinity' with affinity_weight > 0 needs an embedding")
        if embedding.dim() != 4 or embedding.shape[0] != B or embedding.shape[2:] != (H, W):
            raise ValueError(
                f'embedding must have shape (B, D, H, W) = ({B}, D, {H}, {W}), '
                f'got {tuple(embedding.shape)}'
            )
        if band_source == 'prediction' and (
            band_evidence is None or tuple(band_evidence.shape) != (B, 1, H, W)
        ):
            got = None if band_evidence is None else tuple(band_evidence.shape)
            raise ValueError(
                f"band_source='prediction' needs band_evidence of shape "
                f'({B}, 1, {H}, {W}) (probabilities), got {got}'
            )

    intensity, inside = gather_windows(image, points, R)
    intensity = intensity[:, 0]
    seed = center_seed(P, R, device)
    blob_args = (intensity, inside, seed, R, n_steps)
    blob_kwargs = dict(
        kappa_band=kappa_band,
        beta_band=beta_band,
        band_steps=band_steps if rule == 'v2' else 0,
        ring_width=ring_width,
        adaptive=adaptive,
        r_min=r_min,
        r_max=r_max,
        support_scale=support_scale,
        support_pad=support_pad,
    )
    half, support, ring, gate, core, band = gated_blobs(*blob_args, kappa, beta, **blob_kwargs)
    for k_fb, b_fb in fallback_gates:
        # Every point is evaluated at the looser gate and the blind ones take it: no branch on
        # the data, so nothing waits on the device.
        fb = gated_blobs(*blob_args, k_fb, b_fb, **blob_kwargs)
        blind = prior_blind(core, min_core).view(-1, 1, 1)
        half = torch.where(blind.view(-1, 1), fb[0], half)
        support, ring, gate, core, band = (
            torch.where(blind, new, old)
            for new, old in zip(fb[1:], (support, ring, gate, core, band))
        )

    if mode == 'point':
        regions, ignore = seed, torch.zeros_like(seed)
    elif mode == 'prior' or (rule == 'v1' and w == 0.0):
        # The prior-only target; also the first form at w = 0 (s = 1 >= tau_pos on the gate).
        regions = core
        ignore = band if band_source == 'ignore' else torch.zeros_like(core)
    else:
        affinity = (
            anchor_affinity(embedding.detach(), points, inside, R)
            if w > 0.0
            else torch.zeros(intensity.shape, device=device)
        )
        if rule == 'v2' and w > 0.0 and affinity_scale == 'ring':
            affinity = ring_scaled_affinity(affinity, core, ring)
        band_score = None
        if rule == 'v2' and w > 0.0 and band_source == 'prediction':
            band_score = gather_windows(band_evidence.detach().float(), points, R)[0][:, 0]
        if rule == 'v2':
            regions, ignore = two_level_labels(
                seed,
                core,
                band,
                support,
                affinity,
                w,
                tau_pos=tau_pos,
                tau_neg=tau_neg,
                band_prior=band_prior,
                band_limit=band_limit,
                steps=n_steps,
                band_score=band_score,
                band_tau=tuple(band_tau),
                ignore_band=band_source == 'ignore',
            )
        else:
            regions, ignore = threshold_labels(
                seed, gate, affinity, w, tau_pos=tau_pos, tau_neg=tau_neg, steps=n_steps
            )

    if min_core > 0 and mode != 'point':
        blind = prior_blind(core, min_core)
        ignore = ignore | (blind.view(-1, 1, 1) & support & ~regions)
    labels = scatter_targets(regions, ignore, points, R, (B, H, W))
    return PointTargets(
        labels=labels,
        regions=regions,
        ignore=ignore,
        support=support,
        gate=gate,
        core=core,
        band=band,
        points=points,
        radius=R,
        half_sizes=half,
    )


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
    'MODES',
    'RULES',
    'AFFINITY_SCALES',
    'BAND_SOURCES',
    'PointTargets',
    'ring_scaled_affinity',
    'contrast_gates',
    'core_and_band',
    'prior_blind',
    'gated_blobs',
    'anchor_affinity',
    'two_level_labels',
    'threshold_labels',
    'generate_point_targets',
    'window_of',
    'region_area',
    'touches_support_edge',
]
