"""Soft IoU loss over non-ignored pixels."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .bce_loss import binary_logits, pixel_weight, soft_targets


@MODELS.register_module()
class SoftIoULoss(nn.Module):
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

    def __init__(self,
                 loss_weight: float = 1.0,
                 smooth: float = 1.0,
                 reduction: str = 'image',
                 loss_name: str = 'loss_softiou') -> None:
        super().__init__()
        if reduction not in ('image', 'batch'):
            raise ValueError(f"reduction must be 'image' or 'batch', got {reduction!r}")
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.smooth = smooth
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred: ``(B, 1, H, W)`` logits.
            target: ``(B, H, W)`` long labels: 0 background, 1 target, ``ignore_index``;
                or float soft targets in ``[0, 1]`` with ``ignore_index`` on skipped pixels.
            weight: Optional per-pixel weight ``(B, H, W)`` scaling each pixel's share of the
                sums.
            ignore_index: Label value to skip.

        Returns:
            Scalar loss.
        """
        logits = binary_logits(pred, target).float()
        valid = target != ignore_index
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
        return self.loss_weight * (1 - iou).mean()

    @property
    def loss_name(self) -> str:
        return self._loss_name
