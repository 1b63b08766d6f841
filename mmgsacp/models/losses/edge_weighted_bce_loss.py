"""Edge-weighted BCE with hard-pixel selection (PAL, Yu et al., ICCV 2025)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .bce_loss import BinaryPixelLoss


def edge_band(target: Tensor) -> Tensor:
    """The one-pixel inner boundary of binary targets.

    Args:
        target (Tensor): (B, H, W) bool target pixels.

    Returns:
        Tensor: (B, H, W) bool, target pixels with a non-target pixel (or the image border)
        among their 8 neighbours.
    """
    t = target.float().unsqueeze(1)
    # erosion = 1 - dilation of the complement; the border pads as non-target
    eroded = 1 - F.max_pool2d(F.pad(1 - t, (1, 1, 1, 1), value=1.0), 3, stride=1)
    return target & (eroded[:, 0] < 0.5)


def edge_weighted_hard_bce(
    logits: Tensor,
    target: Tensor,
    valid: Tensor,
    edge_weight: float = 4.0,
    hard_ratio: float = 0.5,
    pixel_weight: Optional[Tensor] = None,
) -> Tensor:
    """Per-pixel BCE, ``edge_weight`` times on the targets' edge band, averaged over the
    hardest ``hard_ratio`` of the valid pixels (those with the largest weighted loss).

    Args:
        logits (Tensor): (B, H, W) logits.
        target (Tensor): (B, H, W) bool binary labels.
        valid (Tensor): (B, H, W) bool pixels that count.
        edge_weight (float): Weight of the edge band (others weigh 1).
        hard_ratio (float): Share of valid pixels kept, in (0, 1].
        pixel_weight (Tensor, optional): (B, H, W) weight multiplying the edge weighting, so
            it also decides which pixels count as hard (PAL passes none).

    Returns:
        Tensor: Scalar loss (0, still differentiable, with no valid pixel).
    """
    target = target & valid
    weight = torch.where(
        edge_band(target), torch.full_like(logits, edge_weight), torch.ones_like(logits)
    )
    if pixel_weight is not None:
        weight = weight * pixel_weight
    loss = (
        F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction='none')
        * weight
    )
    loss = loss[valid]
    if loss.numel() == 0:
        return logits.sum() * 0
    k = max(1, int(round(hard_ratio * loss.numel())))
    return loss.topk(k, sorted=False).values.mean()


@MODELS.register_module()
class EdgeWeightedBCELoss(BinaryPixelLoss):
    """Registered wrapper of :func:`edge_weighted_hard_bce`.

    Soft labels (8-bit stored labels scaled to [0, 1]) are binarised at ``binarize_at``
    (0.5, i.e. 127.5 of 255), as PAL feeds its stored labels to the loss.

    Args:
        edge_weight (float): Weight of the one-pixel edge band. Defaults to 4.
        hard_ratio (float): Share of hardest pixels averaged. Defaults to 0.5.
        binarize_at (float): Float labels above this are targets. Defaults to 0.5.
        loss_weight (float): Multiplier of the loss. Defaults to 1.
        loss_name (str): Key in the loss dict (must start with ``loss_``).
    """

    def __init__(
        self,
        edge_weight: float = 4.0,
        hard_ratio: float = 0.5,
        binarize_at: float = 0.5,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_edge_bce',
    ) -> None:
        super().__init__(float(loss_weight), loss_name)
        if not 0.0 < hard_ratio <= 1.0:
            raise ValueError(f'hard_ratio must be in (0, 1], got {hard_ratio}')
        if edge_weight <= 0:
            raise ValueError(f'edge_weight must be > 0, got {edge_weight}')
        self.edge_weight = float(edge_weight)
        self.hard_ratio = float(hard_ratio)
        self.binarize_at = float(binarize_at)

    def pixel_loss(
        self, logits: Tensor, target: Tensor, valid: Tensor, weight: Optional[Tensor]
    ) -> Tensor:
        """:func:`edge_weighted_hard_bce` of the binarised labels."""
        binary = target > self.binarize_at if target.is_floating_point() else target == 1
        return edge_weighted_hard_bce(
            logits, binary, valid, self.edge_weight, self.hard_ratio, weight
        )
