"""Soft IoU loss over non-ignored pixels."""

from __future__ import annotations

from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .bce_loss import BinaryPixelLoss, pixel_weight, soft_targets


@MODELS.register_module()
class SoftIoULoss(BinaryPixelLoss):
    """``1 - (sum p*t + s) / (sum p + sum t - sum p*t + s)`` over valid pixels.

    ``reduction='image'`` (default) computes it per image and averages over the batch: every
    image weighs the same whatever its target's size (the nIoU view), so a batch's large targets
    do not drown its tiny ones. The smoothing term keeps images without target pixels defined
    (their loss, ``sum p / (sum p + s)``, pushes false alarms down) and a fully ignored image
    gives 0. ``reduction='batch'`` sums over the whole batch first (the form LESPS and DNANet
    train with). Point labels need it: with one target pixel per image the per-image ratio of
    an empty prediction is ``s / (1 + s)``, already 0.5 for ``s = 1``, so predicting nothing is
    a comfortable minimum; summed over a batch the point pixels outweigh ``s``.
    Ignored pixels are removed from all three sums, so their logits get zero gradient.

    Args:
        loss_weight: Multiplier of the loss.
        smooth: Smoothing term ``s``.
        reduction: ``'image'`` or ``'batch'``.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    def __init__(
        self,
        loss_weight: float = 1.0,
        smooth: float = 1.0,
        reduction: str = 'image',
        loss_name: str = 'loss_softiou',
    ) -> None:
        super().__init__(loss_weight, loss_name)
        if reduction not in ('image', 'batch'):
            raise ValueError(f"reduction must be 'image' or 'batch', got {reduction!r}")
        self.reduction = reduction
        self.smooth = smooth

    def pixel_loss(
        self, logits: Tensor, target: Tensor, valid: Tensor, weight: Optional[Tensor]
    ) -> Tensor:
        """``1 - IoU`` per image (or over the batch), ``weight`` scaling each pixel's share of
        the sums."""
        logits = logits.float()
        prob = torch.where(valid, torch.sigmoid(logits), torch.zeros_like(logits))
        truth = torch.where(valid, target, torch.zeros_like(target))
        truth = soft_targets(truth).to(prob.dtype)
        inter = prob * truth
        w = pixel_weight(weight, target)
        if w is not None:
            w = w.to(prob.dtype)
            prob, truth, inter = prob * w, truth * w, inter * w
        dims = 1 if self.reduction == 'image' else 0
        inter = inter.flatten(dims).sum(-1)
        union = prob.flatten(dims).sum(-1) + truth.flatten(dims).sum(-1) - inter
        iou = (inter + self.smooth) / (union + self.smooth)
        return (1 - iou).mean()
