"""Hard-background contrastive separation of the embedding the affinity is measured on.

See docs/en/method.md, 'Hard-background contrastive loss'.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..pseudo_labels import (
    BACKGROUND,
    PointTargets,
    dilate3x3,
    exclusion_zone,
    false_positive_pixels,
    far_from_points,
    window_anchor,
    window_pixels,
)
from .utils import BaseLoss

RULES = ('v2', 'v1')


def _unit(x: Tensor, dim: int) -> Tensor:
    """L2-normalise along ``dim`` (a sum of squares is far cheaper than ``linalg.norm`` here)."""
    return x * x.square().sum(dim, keepdim=True).clamp_min(1e-24).rsqrt()


def _gather_pixels(embedding: Tensor, points: Tensor, pix: Tensor) -> Tensor:
    """Embedding at flat pixels of each point's image: ``(P, D, N)`` from ``pix`` ``(P, N)``.

    One ``index_select`` on the flat map, so the backward is a single ``index_add``.
    """
    B, D, H, W = embedding.shape
    channels = torch.arange(D, device=embedding.device).view(1, -1, 1)
    flat = (points[:, 0].view(-1, 1, 1) * D + channels) * (H * W) + pix.unsqueeze(1)
    return (
        embedding.reshape(-1).index_select(0, flat.flatten()).view(points.shape[0], D, pix.shape[1])
    )


def _info_nce(a_pos: Tensor, a_neg: Tensor, neg_valid: Tensor, temperature: float) -> Tensor:
    """InfoNCE term of every candidate positive against its row's negatives.

    ``-log(e^{a_x/T} / (e^{a_x/T} + sum_neg e^{a_n/T}))``, i.e.
    ``softplus(logsumexp_neg(a_n/T) - a_x/T)``. Rows without a valid negative get a finite
    stand-in and a zero term, so logsumexp never sees an all -inf row (NaN gradients).

    Args:
        a_pos: ``(P, N)`` affinities of the candidate positives.
        a_neg: ``(P, K)`` affinities of the negatives.
        neg_valid: ``(P, K)`` bool, the negative is real.
        temperature: ``T``.

    Returns:
        ``(P, N)`` terms (0 in rows without a valid negative).
    """
    has_neg = neg_valid.any(1, keepdim=True)
    neg_logit = (a_neg / temperature).masked_fill(~neg_valid, float('-inf'))
    neg_logit = torch.where(has_neg, neg_logit, torch.zeros_like(neg_logit))
    lse = torch.logsumexp(neg_logit, 1, keepdim=True)
    terms = F.softplus(lse - a_pos / temperature)
    return torch.where(has_neg, terms, torch.zeros_like(terms))


def _margin_push(a_neg: Tensor, neg_valid: Tensor, margin: float) -> Tensor:
    """``(P,)`` mean over each row's valid negatives of ``relu(a_n - margin)`` (0 without)."""
    neg_f = neg_valid.to(a_neg.dtype)
    return ((a_neg - margin).clamp_min(0) * neg_f).sum(1) / neg_f.sum(1).clamp_min(1)


class Negatives(NamedTuple):
    """The negatives mined for one batch (no gradient).

    Attributes:
        zone: ``(B, H, W)`` bool exclusion zone (no negative is taken there).
        false_positive: ``(B, H, W)`` bool confident clutter (teacher's, else the student's).
        pixels: ``(P, K)`` long flat pixel index ``y * W + x`` in each point's image.
        valid: ``(P, K)`` bool, the pick is a real negative (rows with fewer candidates than
            ``K`` are padded with invalid picks).
        from_false_positive: ``(P, K)`` bool, the pick is a false-positive pixel.
    """

    zone: Tensor
    false_positive: Tensor
    pixels: Tensor
    valid: Tensor
    from_false_positive: Tensor


@torch.no_grad()
def sample_beyond(
    targets: PointTargets, height: int, width: int, num_samples: int
) -> Tuple[Tensor, Tensor]:
    """Random pixels of each point's image, flagged when they lie outside its support.

    Args:
        targets: The batch's targets.
        height: ``H``.
        width: ``W``.
        num_samples: ``M`` draws per point (uniform over the image, with replacement).

    Returns:
        ``pix``: ``(P, M)`` long flat pixel index ``y * W + x`` in the point's image.
        ``outside``: ``(P, M)`` bool, the draw lies beyond the point's support.
    """
    points = targets.points
    P = points.shape[0]
    pix = torch.randint(0, height * width, (P, num_samples), device=points.device)
    dy = (pix // width - points[:, 2:3]).abs()
    dx = (pix % width - points[:, 1:2]).abs()
    return pix, (dy > targets.half_sizes[:, 0:1]) | (dx > targets.half_sizes[:, 1:2])


@MODELS.register_module()
class HardBackgroundContrastiveLoss(BaseLoss):
    """Pull each point's target to its anchor, push clutter away from it.

    ``rule='v2'`` (default). Per point ``p``:

    * positives: its core blob and its propagated region (``C_p | region_p``), so the prior's
      own extent is always pulled, not only what the loop already accepted;
    * negatives: clutter only, never inside the exclusion zone (each point's core blob and
      band dilated by ``zone_margin`` px, and a ``(2 * point_half + 1)``-px square at every
      point): first the pixels of confident components (probability > 0.5, from the teacher
      when there is one, else the student's detached prediction) that hold no point and miss
      the zone, most confident first; then, among ``num_beyond`` random pixels farther than the
      window radius from every point, those most similar to the anchor;
    * per positive ``x``: an absolute pull ``1 - a(x)`` (the label rule thresholds the affinity
      absolutely, so a relative loss alone would not serve it) plus, for ``mode='infonce'``,
      ``-log(exp(a_x/T) / (exp(a_x/T) + sum_neg exp(a_n/T)))``; for ``mode='margin'`` the
      push is ``mean_neg(relu(a_n - margin))`` per point instead;
    * the anchor (mean of the point's 3x3 cell) is detached: a fixed target for the step.

    Per-point losses are averaged over points, and the loss weight is scaled by the warm-up
    weight ``w`` that the head passes. The false-positive pixels also serve the segmentation
    loss: :meth:`background_weight` gives them weight ``fp_weight`` as background.

    ``rule='v1'`` keeps the first form: positives the propagated region (optionally its ignore
    band or the prior blob), negatives background pixels of the window away from the prior blob
    and random pixels beyond the support, the brightest then the most anchor-like; it does not
    follow the warm-up and mines no false positives.

    Args:
        rule: ``'v2'`` or ``'v1'``.
        mode: ``'infonce'`` or ``'margin'`` (the push term).
        temperature: InfoNCE temperature ``T``.
        margin: Affinity that negatives are pushed below (``'margin'``).
        num_negatives: Negatives per point ``K``.
        num_beyond: Random far pixels per point the affinity-ranked negatives are chosen from.
        zone_margin: Dilation of the core blobs and bands in the exclusion zone (``'v2'``).
        point_half: Half side of the square around every point in the zone (``'v2'``).
        fp_weight: Background weight of false-positive pixels in the segmentation loss
            (``'v2'``).
        fp_threshold: Probability above which a pixel is a confident prediction (``'v2'``).
        fp_steps: Flood steps that tie a confident component to the zone (``'v2'``; defaults
            to twice the window radius).
        detach_anchor: Stop the gradient through the anchor (``'v2'`` always does; the
            default for ``'v1'`` is False).
        bright_fraction: Share of the negatives chosen by brightness (``'v1'``).
        blob_margin: Pixels around the prior blob never taken as negatives (``'v1'``).
        pull_ignore: Also pull the ignore band (``'v1'``).
        pull_blob: Also pull the prior blob (``'v1'``).
        loss_weight: Multiplier ``lambda`` of the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    def __init__(
        self,
        rule: str = 'v2',
        mode: str = 'infonce',
        temperature: float = 0.1,
        margin: float = 0.5,
        num_negatives: int = 64,
        num_beyond: int = 256,
        zone_margin: int = 3,
        point_half: int = 4,
        fp_weight: float = 4.0,
        fp_threshold: float = 0.5,
        fp_steps: Optional[int] = None,
        detach_anchor: Optional[bool] = None,
        bright_fraction: float = 0.5,
        blob_margin: int = 2,
        pull_ignore: bool = False,
        pull_blob: bool = False,
        loss_weight: float = 0.1,
        loss_name: str = 'loss_hbc',
    ) -> None:
        super().__init__(loss_weight, loss_name)
        if rule not in RULES:
            raise ValueError(
                f'HardBackgroundContrastiveLoss: rule must be one of {RULES}, got {rule!r}'
            )
        if mode not in ('infonce', 'margin'):
            raise ValueError(f"mode must be 'infonce' or 'margin', got {mode!r}")
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if not 0.0 <= bright_fraction <= 1.0:
            raise ValueError(f'bright_fraction must be in [0, 1], got {bright_fraction}')
        if num_negatives < 1 or num_beyond < 0:
            raise ValueError('need num_negatives >= 1 and num_beyond >= 0')
        if blob_margin < 0 or zone_margin < 0 or point_half < 0:
            raise ValueError('blob_margin, zone_margin and point_half must be >= 0')
        if fp_weight < 0:
            raise ValueError(f'fp_weight must be >= 0, got {fp_weight}')
        if rule == 'v2' and (pull_ignore or pull_blob):
            raise ValueError(
                'pull_ignore and pull_blob are options of the first form '
                "(rule='v1'); rule 'v2' always pulls the core blob and the region"
            )
        if rule == 'v2' and detach_anchor is False:
            raise ValueError(
                "rule 'v2' always detaches the anchor (detach_anchor=False is "
                "the first form's option)"
            )
        self.rule = rule
        self.mode = mode
        self.temperature = temperature
        self.margin = margin
        self.num_negatives = num_negatives
        self.num_beyond = num_beyond
        self.zone_margin = zone_margin
        self.point_half = point_half
        self.fp_weight = fp_weight
        self.fp_threshold = fp_threshold
        self.fp_steps = fp_steps
        self.detach_anchor = rule == 'v2' or bool(detach_anchor)
        self.bright_fraction = bright_fraction
        self.blob_margin = blob_margin
        self.pull_ignore = pull_ignore
        self.pull_blob = pull_blob

    # ------------------------------------------------------------------ revision 2
    @torch.no_grad()
    def mine(self, embedding: Tensor, targets: PointTargets, prob: Tensor) -> Negatives:
        """Choose each point's negatives (``rule='v2'``).

        Args:
            embedding: ``(B, D, H, W)`` embedding (detached here).
            targets: The batch's targets.
            prob: ``(B, 1, H, W)`` or ``(B, H, W)`` probabilities the false positives come
                from (the teacher's, else the student's), at the embedding's size.

        Returns:
            :class:`Negatives`.
        """
        B, D, H, W = embedding.shape
        HW = H * W
        points = targets.points.to(embedding.device)
        P, R, K = points.shape[0], targets.radius, self.num_negatives
        if prob.dim() == 4:
            prob = prob[:, 0]
        prob = prob.detach().float()
        if prob.shape != (B, H, W):
            raise ValueError(
                f'probabilities must have shape ({B}, {H}, {W}), got {tuple(prob.shape)}'
            )
        zone = exclusion_zone(targets, self.zone_margin, self.point_half)
        steps = 2 * R if self.fp_steps is None else self.fp_steps
        fp = false_positive_pixels(prob, zone, points, steps, self.fp_threshold)
        neg_inf = float('-inf')
        k_fp = min(K, HW)
        fp_val, fp_pix = prob.reshape(B, HW).masked_fill(~fp.reshape(B, HW), neg_inf).topk(k_fp, 1)
        rows = points[:, 0]
        fp_val, fp_pix = fp_val[rows], fp_pix[rows]  # (P, k_fp): the image's clutter
        # Far candidates: a uniform draw without replacement among the allowed pixels.
        allowed = (far_from_points(points, (B, H, W), R) & ~zone & ~fp).reshape(B, HW)
        m = min(self.num_beyond, HW)
        keys = torch.rand(P, HW, device=embedding.device).masked_fill(~allowed[rows], -1.0)
        key_val, far_pix = keys.topk(m, 1)
        S = 2 * R + 1
        win_pix, inside = window_pixels(points, R, H, W)
        emb = _unit(
            _gather_pixels(
                embedding.detach(), points, torch.cat([win_pix.flatten(1), far_pix], 1)
            ).float(),
            1,
        )
        win = emb[:, :, : S * S] * inside.flatten(1).unsqueeze(1)
        anchor = window_anchor(win.unflatten(2, (S, S)), inside, R)
        a_far = torch.einsum('pdn,pd->pn', emb[:, :, S * S :], anchor)
        # False positives first (key above any cosine), then the most anchor-like far pixels.
        key = torch.cat([fp_val + 2.0, a_far.masked_fill(key_val < 0, neg_inf)], 1)
        top, pick = key.topk(min(K, key.shape[1]), 1)
        pixels = torch.cat([fp_pix, far_pix], 1).gather(1, pick)
        return Negatives(
            zone=zone,
            false_positive=fp,
            pixels=pixels,
            valid=top > neg_inf,
            from_false_positive=(pick < k_fp) & (top > neg_inf),
        )

    def background_weight(self, negatives: Negatives, labels: Tensor) -> Tensor:
        """Per-pixel weight of the segmentation loss: ``fp_weight`` on false-positive pixels.

        Args:
            negatives: From :meth:`mine`.
            labels: ``(B, H, W)`` long labels (only background pixels are reweighted).

        Returns:
            ``(B, H, W)`` float weights (1 elsewhere).
        """
        fp = negatives.false_positive & (labels == BACKGROUND)
        return torch.ones(labels.shape, device=labels.device).masked_fill(fp, self.fp_weight)

    def forward(
        self,
        embedding: Tensor,
        image: Tensor,
        targets: PointTargets,
        negatives: Optional[Negatives] = None,
        affinity_weight: float = 1.0,
        **kwargs,
    ) -> Tensor:
        """Compute the loss.

        Args:
            embedding: ``(B, D, H, W)`` embedding with gradient (normalised here per pixel).
            image: ``(B, 1, H, W)`` input intensities (bright clutter, ``'v1'``).
            targets: The batch's :class:`PointTargets` (from this or a teacher embedding).
            negatives: ``'v2'``: the step's :meth:`mine` result (mined here when None, from
                the student's embedding alone, without false positives).
            affinity_weight: Warm-up weight ``w`` the ``'v2'`` loss weight follows.

        Returns:
            Scalar loss; 0 with a gradient path (no NaN) when there is no point.
        """
        if targets.num_points == 0:
            # An empty slice keeps a gradient path (zeros) without a pass over the whole map.
            return embedding.reshape(-1)[:0].sum()
        if self.rule == 'v1':
            return self._forward_v1(embedding, image, targets)
        if negatives is None:
            B, _, H, W = embedding.shape
            negatives = self.mine(embedding, targets, embedding.new_zeros(B, H, W))
        B, D, H, W = embedding.shape
        R = targets.radius
        S = 2 * R + 1
        points = targets.points.to(embedding.device)
        win_pix, inside = window_pixels(points, R, H, W)
        pool = _unit(
            _gather_pixels(
                embedding, points, torch.cat([win_pix.flatten(1), negatives.pixels], 1)
            ).float(),
            1,
        )
        win = pool[:, :, : S * S] * inside.flatten(1).unsqueeze(1).to(pool.dtype)
        anchor = window_anchor(win.unflatten(2, (S, S)), inside, R).detach()
        a_pos = torch.einsum('pdn,pd->pn', win, anchor)  # (P, S*S)
        a_neg = torch.einsum('pdn,pd->pn', pool[:, :, S * S :], anchor)  # (P, K)
        positive = ((targets.core | targets.regions) & targets.support).flatten(1)
        pos_f = positive.to(a_pos.dtype)
        n_pos = pos_f.sum(1)
        pull = ((1.0 - a_pos) * pos_f).sum(1) / n_pos.clamp_min(1)
        if self.mode == 'infonce':
            nce = _info_nce(a_pos, a_neg, negatives.valid, self.temperature) * pos_f
            push = nce.sum(1) / n_pos.clamp_min(1)
        else:
            push = _margin_push(a_neg, negatives.valid, self.margin)
        has_pos = (n_pos > 0).to(pull.dtype)
        loss = ((pull + push) * has_pos).sum() / has_pos.sum().clamp_min(1)
        return self.loss_weight * float(affinity_weight) * loss

    # ------------------------------------------------------------------ first form
    def _forward_v1(self, embedding: Tensor, image: Tensor, targets: PointTargets) -> Tensor:
        """The first form of the loss (``rule='v1'``).

        Args:
            embedding: ``(B, D, H, W)`` embedding with gradient (normalised here per pixel).
            image: ``(B, 1, H, W)`` input intensities (to find bright clutter).
            targets: The batch's :class:`PointTargets` (from this or a teacher embedding).

        Returns:
            Scalar loss (``targets`` hold at least one point).
        """
        B, D, H, W = embedding.shape
        R = targets.radius
        points = targets.points.to(embedding.device)

        S = 2 * R + 1
        win_pix, inside = window_pixels(points, R, H, W)
        far_pix, far_outside = sample_beyond(targets, H, W, self.num_beyond)
        # Candidate pool per point: its S*S window pixels, then its M draws beyond the support,
        # read with a single index_select so the backward is one index_add into the gradient.
        pool_pix = torch.cat([win_pix.flatten(1), far_pix], 1)  # (P, N)
        in_image = torch.cat([inside.flatten(1), torch.ones_like(far_outside)], 1)
        pool = _gather_pixels(embedding, points, pool_pix).float()
        # Window positions outside the image alias border pixels: zero them (and their grads).
        pool = _unit(pool, 1) * in_image.unsqueeze(1).to(pool.dtype)  # (P, D, N)
        anchor = window_anchor(pool[:, :, : S * S].unflatten(2, (S, S)), inside, R)
        if self.detach_anchor:
            anchor = anchor.detach()
        affinity = torch.einsum('pdn,pd->pn', pool, anchor)  # (P, N)

        with torch.no_grad():
            rows = points[:, 0:1]
            pool_labels = targets.labels.reshape(B, -1)[rows, pool_pix]
            blob = targets.core
            protect = blob
            for _ in range(self.blob_margin):
                protect = dilate3x3(protect)
            negative = torch.cat([(targets.support & ~protect).flatten(1), far_outside], 1) & (
                pool_labels == BACKGROUND
            )
            pulled = targets.regions
            if self.pull_ignore:
                pulled = pulled | targets.ignore
            if self.pull_blob:
                pulled = pulled | blob
            positive = torch.cat(
                [(pulled & targets.support).flatten(1), torch.zeros_like(far_outside)], 1
            )
            bright = image.detach().reshape(B, -1)[rows, pool_pix].float()
            neg_index, neg_valid = self._hard_negatives(negative, bright, affinity.detach())

        has_pos = positive.any(1)
        a_neg = affinity.gather(1, neg_index)
        if self.mode == 'infonce':
            per_pixel = _info_nce(affinity, a_neg, neg_valid, self.temperature)
            per_pixel = torch.where(positive, per_pixel, torch.zeros_like(per_pixel))
            per_point = per_pixel.sum(1) / positive.sum(1).clamp_min(1)
        else:
            pos_f = positive.to(affinity.dtype)
            pull = ((1 - affinity) * pos_f).sum(1) / pos_f.sum(1).clamp_min(1)
            per_point = pull + _margin_push(a_neg, neg_valid, self.margin)
        # Mean over the points with a positive, by masking rather than selecting (a selection
        # would make the host wait for the device); 0 with a gradient path when none has one.
        pos_rows = has_pos.to(per_point.dtype)
        loss = (per_point * pos_rows).sum() / pos_rows.sum().clamp_min(1)
        return self.loss_weight * loss

    def _hard_negatives(
        self, negative: Tensor, brightness: Tensor, affinity: Tensor
    ) -> Tuple[Tensor, Tensor]:
        """Pick the brightest, then the most anchor-like, background candidates.

        Args:
            negative: ``(P, N)`` bool, candidate is background.
            brightness: ``(P, N)`` intensities.
            affinity: ``(P, N)`` detached affinities to the anchor.

        Returns:
            ``index``: ``(P, K)`` long positions in the pool.
            ``valid``: ``(P, K)`` bool, the position is a real negative (rows with fewer than
            ``K`` candidates are padded with invalid picks).
        """
        N = negative.shape[1]
        k_total = min(self.num_negatives, N)
        k_bright = min(int(round(self.bright_fraction * k_total)), k_total)
        k_aff = k_total - k_bright
        neg_inf = float('-inf')
        picks, valid = [], []
        taken = torch.zeros_like(negative)
        if k_bright > 0:
            score = brightness.masked_fill(~negative, neg_inf)
            top, idx = score.topk(k_bright, 1)
            picks.append(idx)
            valid.append(top > neg_inf)
            taken.scatter_(1, idx, True)
        if k_aff > 0:
            score = affinity.masked_fill(~negative | taken, neg_inf)
            top, idx = score.topk(k_aff, 1)
            picks.append(idx)
            valid.append(top > neg_inf)
        return torch.cat(picks, 1), torch.cat(valid, 1)
