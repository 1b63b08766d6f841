"""Gaussian focal loss (Law & Deng, CornerNet, ECCV 2018), as LESPS trains point labels.

LESPS feeds it 0/1 point maps, where the ``(1 - y)^gamma`` factor is 1 for every negative. With
``sigma > 0`` the loss spreads each positive into CornerNet's Gaussian heat map first, so the
pixels next to a point (the rest of the target, which looks just like it) are hardly pushed
down; see :func:`gaussian_heatmap`.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .bce_loss import BinaryPixelLoss, soft_targets


def _shifted_max(x: Tensor, weights: Tensor, dim: int) -> Tensor:
    """``max_k weights[k] * x`` shifted by ``k - r`` along ``dim``, zero outside the image.

    ``weights`` has odd length ``2r + 1`` and is symmetric, so the direction of the shift does
    not matter.
    """
    r = (weights.numel() - 1) // 2
    size = x.shape[dim]
    border = list(x.shape)
    border[dim] = r
    zeros = x.new_zeros(border)
    padded = torch.cat([zeros, x, zeros], dim)
    out = padded.narrow(dim, 0, size) * weights[0]
    for k in range(1, 2 * r + 1):
        out = torch.maximum(out, padded.narrow(dim, k, size) * weights[k])
    return out


def gaussian_heatmap(positives: Tensor, sigma: float) -> Tensor:
    """CornerNet's heat map of a set of positive pixels.

    Each pixel gets ``max_q exp(-|x - q|^2 / (2 sigma^2))`` over the positives ``q`` within
    ``3 sigma`` (per axis), so a positive stays at 1 and its neighbours decay. The Gaussian is
    separable and all factors are non-negative, so the 2-D max is two 1-D passes.

    Args:
        positives (Tensor): ``(B, H, W)`` bool, the label-1 pixels.
        sigma (float): Standard deviation in pixels (> 0).

    Returns:
        Tensor: ``(B, H, W)`` float32 in ``[0, 1]``; 0 far from every positive.
    """
    radius = max(1, int(3 * sigma + 0.5))
    d = torch.arange(-radius, radius + 1, device=positives.device, dtype=torch.float32)
    weights = torch.exp(-(d**2) / (2 * sigma**2))
    heat = _shifted_max(positives.float(), weights, dim=-1)
    return _shifted_max(heat, weights, dim=-2)


def gaussian_focal_loss(
    logits: Tensor, target: Tensor, valid: Tensor, alpha: float = 2.0, gamma: float = 4.0
) -> Tensor:
    """CornerNet's focal loss on soft heat-map labels.

    A pixel whose label equals 1 is a positive and costs ``-(1 - p)^alpha * log(p)``; any other
    pixel is a negative and costs ``-(1 - y)^gamma * p^alpha * log(1 - p)``, so pixels with a
    label near 1 are hardly pushed down. The sum is divided by the number of positives (at
    least 1), not by the number of pixels: with a handful of point pixels per batch, a
    per-pixel mean would drown them in background.

    Args:
        logits (Tensor): (B, H, W) logits.
        target (Tensor): (B, H, W) labels in [0, 1] (hard 0/1 or soft); entries where
            ``valid`` is False are never read.
        valid (Tensor): (B, H, W) bool, the pixels that count.
        alpha (float): Exponent on ``1 - p`` (positives) and ``p`` (negatives).
        gamma (float): Exponent on ``1 - y`` for negatives.

    Returns:
        Tensor: Scalar loss (0, still differentiable, with no valid pixel).
    """
    x = logits[valid].float()
    y = target[valid].float()
    pos = y == 1
    # log-sigmoid forms stay finite for saturated logits, where log(sigmoid) would give -inf
    log_p, log_not_p = F.logsigmoid(x), F.logsigmoid(-x)
    p = torch.sigmoid(x)
    pos_loss = -(1 - p).pow(alpha) * log_p
    neg_loss = -(1 - y).pow(gamma) * p.pow(alpha) * log_not_p
    total = torch.where(pos, pos_loss, neg_loss).sum()
    return total / pos.sum().clamp_min(1)


@MODELS.register_module()
class GaussianFocalLoss(BinaryPixelLoss):
    """Registered wrapper of :func:`gaussian_focal_loss` for a binary head.

    Args:
        alpha (float): Exponent on ``1 - p`` / ``p``. Defaults to 2.
        gamma (float): Exponent on ``1 - y`` for negatives. Defaults to 4.
        sigma (float): Spread of each label-1 pixel into a Gaussian heat map (pixels, see
            :func:`gaussian_heatmap`); a pixel's label becomes the larger of its own and the
            heat map's, ignored pixels stay ignored. 0 (default) keeps the labels as given,
            as LESPS does.
        loss_weight (float): Multiplier of the loss. Defaults to 1.
        loss_name (str): Key in the loss dict (must start with ``loss_``).
    """

    # A per-pixel weight has no meaning next to the normalisation by the positive count.
    takes_weight = False

    def __init__(
        self,
        alpha: float = 2.0,
        gamma: float = 4.0,
        sigma: float = 0.0,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_focal',
    ) -> None:
        super().__init__(float(loss_weight), loss_name)
        if alpha < 0 or gamma < 0:
            raise ValueError(f'alpha and gamma must be >= 0, got alpha={alpha}, gamma={gamma}')
        if sigma < 0:
            raise ValueError(f'sigma must be >= 0 (0: labels as given), got {sigma}')
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.sigma = float(sigma)

    def pixel_loss(
        self, logits: Tensor, target: Tensor, valid: Tensor, weight: Optional[Tensor]
    ) -> Tensor:
        """:func:`gaussian_focal_loss` of the (soft) labels."""
        y = soft_targets(target[valid]).float()
        dense = torch.zeros_like(logits, dtype=torch.float32)
        dense[valid] = y
        if self.sigma > 0:
            dense = torch.maximum(dense, gaussian_heatmap((dense == 1) & valid, self.sigma))
        return gaussian_focal_loss(logits, dense, valid, self.alpha, self.gamma)
