"""Blocks the backbones share: the two-conv block, with a residual connection and attention."""

from __future__ import annotations

from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

OptConfig = Optional[dict]
MultiConfig = Optional[Union[dict, List[dict]]]


class ChannelAttention(nn.Module):
    """CBAM channel attention: a shared bottleneck MLP on global average- and max-pooled
    descriptors, summed and squashed into per-channel weights.

    Args:
        channels (int): Feature channels.
        ratio (int): Reduction ratio of the hidden layer (at least one hidden unit is kept,
            which matters for the 16-channel full-resolution level). Default: 16.
    """

    def __init__(self, channels: int, ratio: int = 16) -> None:
        super().__init__()
        hidden = max(channels // ratio, 1)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> weights (B, C, 1, 1) in (0, 1)."""
        # Plain reductions rather than adaptive pooling: CUDA's adaptive max-pool kernel
        # parallelizes over output cells only, which made it ~90% of DNANet's GPU time.
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        mx = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: a large-kernel conv on the channel-wise mean and max maps.

    Args:
        kernel_size (int): Odd kernel size of the conv. Default: 7.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> weights (B, 1, H, W) in (0, 1)."""
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(desc))


class ConvBlock(BaseModule):
    """Two 3x3 conv-norm-act layers, optionally wrapped in a residual connection.

    With ``residual=True`` the second activation is applied after the sum (as in a ResNet
    basic block) and a 1x1 conv-norm projection matches the shortcut's channels when needed.
    With ``attention=True`` the second conv's output is reweighted by CBAM channel then spatial
    attention before the sum: ``out = act(SA(CA(r)) + shortcut(x))``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        residual (bool): Add an identity/projection shortcut. Default: True.
        attention (bool): Reweight the residual branch by :class:`ChannelAttention` then
            :class:`SpatialAttention`; needs ``residual``. Default: False.
        ca_ratio (int): Channel-attention reduction ratio. Default: 16.
        sa_kernel (int): Spatial-attention kernel size. Default: 7.
        conv_cfg (dict, optional): Config of the conv layers. Default: None.
        norm_cfg (dict): Config of the norm layers. Default: ``dict(type='BN')``.
        act_cfg (dict): Config of the activations. Default: ``dict(type='ReLU')``.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        residual: bool = True,
        attention: bool = False,
        ca_ratio: int = 16,
        sa_kernel: int = 7,
        conv_cfg: OptConfig = None,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg: MultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if attention and not residual:
            raise ValueError('ConvBlock: attention acts on the residual branch, needs residual')
        self.residual = residual
        self.with_attention = attention
        self.conv1 = ConvModule(
            in_channels,
            out_channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.conv2 = ConvModule(
            out_channels,
            out_channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None if residual else act_cfg,
        )
        # Built between the convs and the shortcut, so parameters keep the order that
        # optimizer states saved in checkpoints are matched by.
        if attention:
            self.ca = ChannelAttention(out_channels, ca_ratio)
            self.sa = SpatialAttention(sa_kernel)
        if residual:
            self.shortcut = (
                nn.Identity()
                if in_channels == out_channels
                else ConvModule(
                    in_channels, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None
                )
            )
            self.act = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        out = self.conv2(self.conv1(x))
        if self.with_attention:
            out = out * self.ca(out)
            out = out * self.sa(out)
        if self.residual:
            out = self.act(out + self.shortcut(x))
        return out
