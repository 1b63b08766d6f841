"""Base of the U-shaped backbones: the arguments they share and the decoders' upsampling."""

from __future__ import annotations

from typing import List, Optional, Union

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor


class BaseBackbone(BaseModule):
    """Base of the package's U-shaped backbones.

    It keeps the arguments every one of them takes (the layers' norm and activation configs,
    how the decoder upsamples), documents what every one of them exposes, and upsamples a
    coarse map to the exact size of a finer one, so that decoders built on it take any
    ``H, W`` (odd sizes included) without padding.

    Args:
        in_channels (int): Input image channels. Default: 1.
        norm_cfg (dict): Config of the norm layers.
            Default: ``dict(type='BN', requires_grad=True)``.
        act_cfg (dict): Config of the activations. Default: ``dict(type='ReLU')``.
        align_corners (bool): ``align_corners`` of the bilinear upsampling. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None
            (``ConvModule`` already uses Kaiming init for convs and constant 1/0 for norms).

    Attributes:
        feat_channels (tuple[int]): Channels of every output, in the order returned (set by
            the subclass).
        out_channels (int): Channels of the last output, the one a decode head reads with
            ``in_index=-1`` (set by the subclass).
    """

    def __init__(
        self,
        in_channels: int = 1,
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        act_cfg: dict = dict(type='ReLU'),
        align_corners: bool = False,
        init_cfg: Optional[Union[dict, List[dict]]] = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.align_corners = align_corners

    def upsample_like(self, x: Tensor, like: Tensor) -> Tensor:
        """Bilinear upsampling of ``x`` ``(B, C, h, w)`` to the size of ``like``
        ``(..., H, W)``: ``(B, C, H, W)``."""
        return F.interpolate(
            x, size=like.shape[-2:], mode='bilinear', align_corners=self.align_corners
        )
