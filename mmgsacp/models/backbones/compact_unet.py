"""A compact U-shaped encoder-decoder for single-channel infrared images."""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.layers import ConvBlock, OptConfig
from .base_backbone import BaseBackbone

__all__ = ['ConvBlock', 'CompactUNet']


@MODELS.register_module()
class CompactUNet(BaseBackbone):
    """Compact U-Net backbone for infrared small-target segmentation on CPU.

    Encoder level ``i`` (``i = 0 .. num_stages-1``) runs at stride ``2**i`` with
    ``base_channels * 2**i`` channels (2x2 max-pooling between levels). Each decoder level
    upsamples the coarser feature bilinearly to the exact size of the matching encoder
    feature, concatenates the two and applies a :class:`ConvBlock`. Since every upsampling
    targets the skip's exact size and pooling uses ``ceil_mode``, any ``H, W`` (odd ones, or
    smaller than ``2**(num_stages-1)``) is handled without padding and the last output has the
    input's spatial size.

    With the defaults (``base_channels=16, num_stages=4``, residual blocks) the network has
    about 0.51 M parameters.

    Args:
        in_channels (int): Input image channels. Default: 1.
        base_channels (int): Channels of the full-resolution level; level ``i`` has
            ``base_channels * 2**i``. Default: 16.
        num_stages (int): Number of resolution levels (>= 2). Default: 4.
        residual (bool): Use residual conv blocks. Default: True.
        conv_cfg (dict, optional): Config of the conv layers. Default: None.
        **kwargs: ``norm_cfg``, ``act_cfg``, ``align_corners``, ``init_cfg`` of
            :class:`BaseBackbone`.

    Shape:
        - Input: ``(B, in_channels, H, W)``.
        - Output: tuple of ``num_stages`` tensors, coarse to fine: the bottleneck
          ``(B, base_channels * 2**(num_stages-1), ~H/2**(num_stages-1), ~W/2**(num_stages-1))``
          followed by the decoder features ``(B, base_channels * 2**i, ~H/2**i, ~W/2**i)`` for
          ``i = num_stages-2 .. 0``; the last is ``(B, base_channels, H, W)`` (use
          ``in_index=-1`` in the decode head).
    """

    def __init__(
        self,
        in_channels: int = 1,
        base_channels: int = 16,
        num_stages: int = 4,
        residual: bool = True,
        conv_cfg: OptConfig = None,
        **kwargs,
    ) -> None:
        super().__init__(in_channels=in_channels, **kwargs)
        if num_stages < 2:
            raise ValueError(f'num_stages must be >= 2, got {num_stages}')
        self.base_channels = base_channels
        self.num_stages = num_stages
        chs = [base_channels * 2**i for i in range(num_stages)]
        block_kw = dict(
            residual=residual, conv_cfg=conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg
        )

        self.encoder = nn.ModuleList()
        prev = in_channels
        for c in chs:
            self.encoder.append(ConvBlock(prev, c, **block_kw))
            prev = c
        # ceil_mode keeps a 1-pixel border of odd-sized maps instead of dropping it, so no
        # level collapses to size 0 on tiny inputs.
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        # decoder[k] produces level num_stages-2-k (coarse to fine).
        self.decoder = nn.ModuleList(
            ConvBlock(chs[i + 1] + chs[i], chs[i], **block_kw)
            for i in range(num_stages - 2, -1, -1)
        )

        self.feat_channels: Tuple[int, ...] = tuple(reversed(chs))
        self.out_channels: int = chs[0]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the encoder-decoder.

        Args:
            x (Tensor): Images, ``(B, in_channels, H, W)``.

        Returns:
            tuple[Tensor]: ``num_stages`` features, coarse to fine (see the class docstring);
            the last is ``(B, base_channels, H, W)``.
        """
        skips: List[Tensor] = []
        for i, block in enumerate(self.encoder):
            if i > 0:
                x = self.pool(x)
            x = block(x)
            skips.append(x)

        outs = [x]
        for k, block in enumerate(self.decoder):
            skip = skips[self.num_stages - 2 - k]
            up = self.upsample_like(x, skip)
            x = block(torch.cat([up, skip], dim=1))
            outs.append(x)
        return tuple(outs)
