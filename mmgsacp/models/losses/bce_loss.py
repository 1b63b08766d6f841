"""Binary cross-entropy (optionally focal) that skips ignored pixels."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .utils import BaseLoss


def binary_logits(pred: Tensor, target: Tensor) -> Tensor:
    """Bring single-channel logits to the label layout.

    Args:
        pred: ``(B, 1, H, W)`` or ``(B, H, W)`` logits.
        target: ``(B, H, W)`` labels.

    Returns:
        ``(B, H, W)`` logits.

    Raises:
        ValueError: If ``pred`` has more than one channel or its size differs from ``target``.
    """
    if pred.dim() == 4:
        if pred.shape[1] != 1:
            raise ValueError(f'binary losses need one logit channel, got {pred.shape[1]}')
        pred = pred[:, 0]
    if pred.shape != target.shape:
        raise ValueError(
            f'logits {tuple(pred.shape)} and labels {tuple(target.shape)} differ in size'
        )
    return pred


def soft_targets(target: Tensor) -> Tensor:
    """Target probabilities of valid labels: hard labels as 0/1, soft labels as they are.

    Raises:
        ValueError: If a soft label lies outside ``[0, 1]``.
    """
    if not target.is_floating_point():
        return target > 0
    if target.numel() and bool(((target < 0) | (target > 1)).any()):
        raise ValueError(
            'soft labels must lie in [0, 1] (or equal ignore_index), got values '
            f'in [{float(target.min())}, {float(target.max())}]'
        )
    return target


def pixel_weight(weight: Optional[Tensor], target: Tensor) -> Optional[Tensor]:
    """Optional per-pixel weight as ``(B, H, W)`` (accepts ``(B, 1, H, W)``)."""
    if weight is None:
        return None
    if weight.dim() == 4 and weight.shape[1] == 1:
        weight = weight[:, 0]
    return weight.expand_as(target)


class BinaryPixelLoss(BaseLoss):
    """Base of the pixel losses of a one-channel binary head: what MMSeg's decode head asks of
    a loss (``loss_weight``, ``loss_name``, the call below), with the checks every such loss
    makes; a subclass implements :meth:`pixel_loss`.

    Called as ``loss(pred, target, weight=None, ignore_index=255)``:

    * ``pred``: ``(B, 1, H, W)`` (or ``(B, H, W)``) logits;
    * ``target``: ``(B, H, W)`` long labels (0 background, 1 target, ``ignore_index``), or float
      soft targets in ``[0, 1]`` with ``ignore_index`` on skipped pixels;
    * ``weight``: optional per-pixel weight ``(B, H, W)``, refused by a loss whose
      :attr:`takes_weight` is False;

    and returns ``loss_weight`` times the scalar :meth:`pixel_loss`.

    Args:
        loss_weight: Multiplier of the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    #: Whether the loss accepts a per-pixel ``weight``.
    takes_weight = True

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Optional[Tensor] = None,
        ignore_index: int = 255,
        **kwargs,
    ) -> Tensor:
        """Check the inputs and weigh :meth:`pixel_loss` (see the class for the arguments)."""
        if weight is not None and not self.takes_weight:
            raise ValueError(f'{type(self).__name__} takes no per-pixel weight')
        logits = binary_logits(pred, target)
        return self.loss_weight * self.pixel_loss(logits, target, target != ignore_index, weight)

    def pixel_loss(
        self, logits: Tensor, target: Tensor, valid: Tensor, weight: Optional[Tensor]
    ) -> Tensor:
        """The unweighted scalar loss.

        Args:
            logits: ``(B, H, W)`` logits.
            target: ``(B, H, W)`` labels as given (ignored pixels hold ``ignore_index``).
            valid: ``(B, H, W)`` bool, the pixels not ignored.
            weight: Per-pixel weight as given, or None.
        """
        raise NotImplementedError


@MODELS.register_module()
class IgnoreBCELoss(BinaryPixelLoss):
    """Sigmoid BCE (or focal loss) over the non-ignored pixels of binary labels.

    The loss is the mean over valid pixels, so ignored pixels neither contribute nor dilute
    it, and their logits get exactly zero gradient. With no valid pixel it is 0 and still
    differentiable. Floating-point labels are soft targets in ``[0, 1]`` (LESPS's evolving
    labels), with ``ignore_index`` still marking skipped pixels.

    Args:
        use_focal: Use the focal form ``(1 - p_t)^gamma * BCE``.
        gamma: Focal exponent.
        alpha: Focal class balance (weight ``alpha`` on targets, ``1 - alpha`` on background).
            Defaults to None (no balancing): RetinaNet's 0.25 down-weights positives, which
            here are the few pixels of small targets.
        pos_weight: Weight of the target term ``-t * log(p)`` of each pixel (PyTorch's
            ``pos_weight``): above 1, a missed target pixel costs more than a false alarm
            of the same confidence. Only the BCE carries it: a weight on target pixels
            inside a soft IoU would discount the background's share of the union instead.
        loss_weight: Multiplier of the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    def __init__(
        self,
        use_focal: bool = False,
        gamma: float = 2.0,
        alpha: Optional[float] = None,
        pos_weight: float = 1.0,
        loss_weight: float = 1.0,
        loss_name: str = 'loss_bce',
    ) -> None:
        super().__init__(loss_weight, loss_name)
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1] or None, got {alpha}')
        if not pos_weight > 0:
            raise ValueError(f'pos_weight must be > 0, got {pos_weight}')
        self.pos_weight = float(pos_weight)
        self.use_focal = use_focal
        self.gamma = gamma
        self.alpha = alpha

    def pixel_loss(
        self, logits: Tensor, target: Tensor, valid: Tensor, weight: Optional[Tensor]
    ) -> Tensor:
        """Mean BCE (or focal) over the valid pixels, ``weight`` scaling each pixel's term."""
        # Ignored pixels are masked, not selected: a boolean selection has a data-dependent
        # size, which a GPU can only give after making the host wait. Masking the input as well
        # as the loss keeps their gradient exactly zero even for extreme (or NaN) logits.
        x = torch.where(valid, logits, torch.zeros_like(logits)).float()
        t = soft_targets(torch.where(valid, target, torch.zeros_like(target))).to(x.dtype)
        loss = F.binary_cross_entropy_with_logits(x, t, reduction='none')
        if self.pos_weight != 1.0:
            # PyTorch's pos_weight would need a tensor built from the host on every call (a
            # copy a captured CUDA graph cannot hold); the extra target term is the same sum.
            loss = loss + (self.pos_weight - 1.0) * t * F.softplus(-x)
        if self.use_focal:
            p = torch.sigmoid(x)
            p_t = p * t + (1 - p) * (1 - t)
            loss = loss * (1 - p_t).pow(self.gamma)
            if self.alpha is not None:
                loss = loss * (self.alpha * t + (1 - self.alpha) * (1 - t))
        w = pixel_weight(weight, target)
        if w is not None:
            loss = loss * w.to(loss.dtype)
        loss = torch.where(valid, loss, torch.zeros_like(loss))
        return loss.sum() / valid.sum().clamp_min(1)
