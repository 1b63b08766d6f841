"""Soft IoU loss over non-ignored pixels."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .bce_loss import binary_logits, pixel_weight


@MODELS.register_module()
class SoftIoULoss(nn.Module):
    """``1 - (sum p*t + s) / (sum p + sum t - sum p*t + s)`` over valid pixels.

    Computed per image and then averaged over the batch: every image weighs the same whatever
    its target's size (the nIoU view), so a batch's large targets do not drown its tiny ones.
    The smoothing term keeps images without target pixels defined (their loss,
    ``sum p / (sum p + s)``, pushes false alarms down) and a fully ignored image gives 0.
    Ignored pixels are removed from all three sums, so their logits get zero gradient.

    Args:
        loss_weight: Multiplier of the loss.
        smooth: Smoothing term ``s``.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 smooth: float = 1.0,
                 loss_name: str = 'loss_softiou') -> None:
        super().__init__()
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
            target: ``(B, H, W)`` long labels: 0 background, 1 target, ``ignore_index``.
            weight: Optional per-pixel weight ``(B, H, W)`` scaling each pixel's share of the
                sums.
            ignore_index: Label value to skip.

        Returns:
            Scalar loss.
        """
        logits = binary_logits(pred, target).float()
        valid = target != ignore_index
        prob = torch.where(valid, torch.sigmoid(logits), torch.zeros_like(logits))
        truth = (valid & (target > 0)).to(prob.dtype)
        inter = prob * truth
        w = pixel_weight(weight, target)
        if w is not None:
            w = w.to(prob.dtype)
            prob, truth, inter = prob * w, truth * w, inter * w
        inter = inter.flatten(1).sum(1)
        union = prob.flatten(1).sum(1) + truth.flatten(1).sum(1) - inter
        iou = (inter + self.smooth) / (union + self.smooth)
        return self.loss_weight * (1 - iou).mean()

    @property
    def loss_name(self) -> str:
        return self._loss_name
