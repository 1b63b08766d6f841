"""Hard-background contrastive separation of the embedding.

See docs/en/method.md, 'Hard-background contrastive loss'.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.propagation import (BACKGROUND, PointTargets, center_seed, dilate3x3, propagate,
                                 window_anchor, window_pixels)


def _unit(x: Tensor, dim: int) -> Tensor:
    """L2-normalise along ``dim`` (a sum of squares is far cheaper than ``linalg.norm`` here)."""
    return x * x.square().sum(dim, keepdim=True).clamp_min(1e-24).rsqrt()


@torch.no_grad()
def sample_beyond(targets: PointTargets, height: int, width: int,
                  num_samples: int) -> Tuple[Tensor, Tensor]:
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
class HardBackgroundContrastiveLoss(nn.Module):
    """Pull each point's propagated region to its anchor, push the hardest background away.

    For every point, over its window and ``num_beyond`` random pixels of the same image beyond
    its support:

    * positives: the pixels of its propagated region;
    * negatives: background pixels (label 0 in the batch's targets, so other points' regions
      and ignore bands are never pushed), of two kinds, without repeats: the
      ``bright_fraction * num_negatives`` brightest (bright clutter, what the prior gate confuses
      with targets) and then the ones most similar to the anchor (what the propagation would
      leak into). Selection uses detached scores; fixed-size top-k keeps it batched over points.

    The anchor (mean over the point's 3x3 cell, re-normalised) keeps its gradient by default:
    the point pixel is the one certain positive of the image, so moving it away from hard
    negatives is as useful as moving the negatives; ``detach_anchor=True`` makes it a fixed
    target for the step instead.

    ``'infonce'``: for every positive ``x``,
    ``-log(exp(a_x/T) / (exp(a_x/T) + sum_neg exp(a_n/T)))``, averaged over the point's
    positives. Each region pixel is contrasted with the negatives on its own: with the sum over
    positives inside one log, the loss is already satisfied by the few pixels next to the anchor
    and the rest of the region is hardly pulled.
    ``'margin'``: ``mean_pos(1 - a) + mean_neg(relu(a - margin))`` per point. Either way the
    per-point losses are averaged over points, so a large region does not outweigh a small one.

    Args:
        mode: ``'infonce'`` or ``'margin'``.
        temperature: InfoNCE temperature ``T``.
        margin: Affinity that negatives are pushed below (``'margin'``).
        num_negatives: Hard negatives per point.
        bright_fraction: Share of the negatives chosen by brightness.
        num_beyond: Random pixels per point drawn beyond the support.
        detach_anchor: Stop the gradient through the anchor.
        pull_ignore: Also pull the point's ignore band (prior-gated pixels connected to the
            region whose affinity is uncertain). Pulling the region alone sharpens the embedding
            around what the region already holds, so the band's pixels sink below ``tau_pos``
            and the regions shrink step after step.
        pull_blob: Pull the whole prior-gated blob that holds the point (which contains the
            region and its band): the embedding is then taught the prior's extent of the
            target, so the affinity can only cut pixels the hard negatives resemble, and the
            regions cannot shrink below the blob for want of a pull.
        blob_margin: Window pixels within this many pixels of the prior-gated blob that holds
            the point are never negatives. They are the target's own extent as the intensity
            prior sees it; pushing them away whenever the propagated region misses them feeds
            the loop's shrinking drift (regions collapse onto the point).
        loss_weight: Multiplier of the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    def __init__(self,
                 mode: str = 'infonce',
                 temperature: float = 0.1,
                 margin: float = 0.5,
                 num_negatives: int = 64,
                 bright_fraction: float = 0.5,
                 num_beyond: int = 256,
                 detach_anchor: bool = False,
                 blob_margin: int = 2,
                 pull_ignore: bool = False,
                 pull_blob: bool = False,
                 loss_weight: float = 0.1,
                 loss_name: str = 'loss_hbc') -> None:
        super().__init__()
        if mode not in ('infonce', 'margin'):
            raise ValueError(f"mode must be 'infonce' or 'margin', got {mode!r}")
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if not 0.0 <= bright_fraction <= 1.0:
            raise ValueError(f'bright_fraction must be in [0, 1], got {bright_fraction}')
        if num_negatives < 1 or num_beyond < 0:
            raise ValueError('need num_negatives >= 1 and num_beyond >= 0')
        self.mode = mode
        self.temperature = temperature
        self.margin = margin
        self.num_negatives = num_negatives
        self.bright_fraction = bright_fraction
        self.num_beyond = num_beyond
        self.detach_anchor = detach_anchor
        if blob_margin < 0:
            raise ValueError(f'blob_margin must be >= 0, got {blob_margin}')
        self.blob_margin = blob_margin
        self.pull_ignore = pull_ignore
        self.pull_blob = pull_blob
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, embedding: Tensor, image: Tensor, targets: PointTargets,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            embedding: ``(B, D, H, W)`` embedding with gradient (normalised here per pixel).
            image: ``(B, 1, H, W)`` input intensities (to find bright clutter).
            targets: The batch's :class:`PointTargets` (from this or a teacher embedding).

        Returns:
            Scalar loss; 0 with a gradient path (no NaN) when there is no point.
        """
        # An empty slice keeps a gradient path (zeros) without a pass over the whole map.
        zero = embedding.reshape(-1)[:0].sum()
        P = targets.num_points
        if P == 0:
            return zero
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
        channels = torch.arange(D, device=embedding.device).view(1, -1, 1)
        flat = (points[:, 0].view(-1, 1, 1) * D + channels) * (H * W) + pool_pix.unsqueeze(1)
        pool = embedding.reshape(-1).index_select(0, flat.flatten()).view(P, D, -1).float()
        # Window positions outside the image alias border pixels: zero them (and their grads).
        pool = _unit(pool, 1) * in_image.unsqueeze(1).to(pool.dtype)  # (P, D, N)
        anchor = window_anchor(pool[:, :, :S * S].unflatten(2, (S, S)), inside, R)
        if self.detach_anchor:
            anchor = anchor.detach()
        affinity = torch.einsum('pdn,pd->pn', pool, anchor)  # (P, N)

        with torch.no_grad():
            rows = points[:, 0:1]
            pool_labels = targets.labels.reshape(B, -1)[rows, pool_pix]
            blob = propagate(center_seed(P, R, embedding.device), targets.gate.unsqueeze(1),
                             R)[:, 0]
            protect = blob
            for _ in range(self.blob_margin):
                protect = dilate3x3(protect)
            negative = torch.cat([(targets.support & ~protect).flatten(1), far_outside], 1) & (
                pool_labels == BACKGROUND)
            pulled = targets.regions
            if self.pull_ignore:
                pulled = pulled | targets.ignore
            if self.pull_blob:
                pulled = pulled | blob
            positive = torch.cat([(pulled & targets.support).flatten(1),
                                  torch.zeros_like(far_outside)], 1)
            bright = image.detach().reshape(B, -1)[rows, pool_pix].float()
            neg_index, neg_valid = self._hard_negatives(negative, bright, affinity.detach())

        has_pos = positive.any(1)
        if not bool(has_pos.any()):
            return zero
        a_neg = affinity.gather(1, neg_index)
        if self.mode == 'infonce':
            # Per positive x: -log(e^{a_x/T} / (e^{a_x/T} + sum_neg e^{a_n/T})), i.e.
            # softplus(logsumexp_neg - a_x/T). Rows without a valid negative get a finite
            # stand-in and a zero loss, so logsumexp never sees an all -inf row (NaN grads).
            has_neg = neg_valid.any(1, keepdim=True)
            neg_logit = (a_neg / self.temperature).masked_fill(~neg_valid, float('-inf'))
            neg_logit = torch.where(has_neg, neg_logit, torch.zeros_like(neg_logit))
            lse_neg = torch.logsumexp(neg_logit, 1, keepdim=True)
            per_pixel = F.softplus(lse_neg - affinity / self.temperature)
            per_pixel = torch.where(positive & has_neg, per_pixel, torch.zeros_like(per_pixel))
            loss = (per_pixel.sum(1) / positive.sum(1).clamp_min(1))[has_pos]
        else:
            pos_f, neg_f = positive.to(affinity.dtype), neg_valid.to(affinity.dtype)
            pull = ((1 - affinity) * pos_f).sum(1) / pos_f.sum(1).clamp_min(1)
            push = ((a_neg - self.margin).clamp_min(0) * neg_f).sum(1) / neg_f.sum(1).clamp_min(1)
            loss = (pull + push)[has_pos]
        return self.loss_weight * loss.mean()

    def _hard_negatives(self, negative: Tensor, brightness: Tensor,
                        affinity: Tensor) -> Tuple[Tensor, Tensor]:
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

    @property
    def loss_name(self) -> str:
        return self._loss_name
