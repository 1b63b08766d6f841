"""What every loss of the package shares."""

from __future__ import annotations

import torch.nn as nn


class BaseLoss(nn.Module):
    """Base of the losses: what MMSeg's decode heads read from a loss module besides the call,
    a multiplier and the key of the loss in the loss dict.

    Args:
        loss_weight: Multiplier of the loss.
        loss_name: Key of the loss in the loss dict (must start with ``loss_``).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_pixel') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name
