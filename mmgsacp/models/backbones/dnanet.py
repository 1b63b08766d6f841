"""DNANet: dense nested attention network (Li et al., TIP 2023) as an MMSeg backbone."""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.layers import ChannelAttention, ConvBlock, OptConfig, SpatialAttention
from .base_backbone import BaseBackbone

__all__ = ['ChannelAttention', 'SpatialAttention', 'ResCBAMBlock', 'DNANet']


class ResCBAMBlock(ConvBlock):
    """Residual block with channel-then-spatial attention on the residual branch.

    ``out = act(SA(CA(r)) + shortcut(x))`` with ``r = norm(conv3x3(act(norm(conv3x3(x)))))``;
    the shortcut is the identity, or a 1x1 conv + norm when the channels change: a
    :class:`ConvBlock` with ``residual=True, attention=True``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        ca_ratio (int): Channel-attention reduction ratio. Default: 16.
        sa_kernel (int): Spatial-attention kernel size. Default: 7.
        **kwargs: ``conv_cfg``, ``norm_cfg``, ``act_cfg``, ``init_cfg`` of :class:`ConvBlock`.
    """

    def __init__(
        self, in_channels: int, out_channels: int, ca_ratio: int = 16, sa_kernel: int = 7, **kwargs
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            residual=True,
            attention=True,
            ca_ratio=ca_ratio,
            sa_kernel=sa_kernel,
            **kwargs,
        )


@MODELS.register_module()
class DNANet(BaseBackbone):
    """Dense Nested Attention Network backbone (Li et al., "Dense Nested Attention Network for
    Infrared Small Target Detection", IEEE TIP 2023), without its final 1x1 classifier.

    **Dense nested interactive module.** ``L = len(nb_filter)`` levels; level ``i`` runs at
    stride ``2**i`` with ``nb_filter[i]`` channels. Nodes ``X[i][j]`` exist for ``i + j < L``.
    The backbone column is ``X[0][0] = F(image)``, ``X[i][0] = F(maxpool(X[i-1][0]))``; a nested
    node (``j > 0``) fuses every earlier node of its level (dense skips), the upsampled coarser
    node ``X[i+1][j-1]`` and, for ``i > 0``, the max-pooled finer node ``X[i-1][j]``:

        ``X[i][j] = F([X[i][0], ..., X[i][j-1], up(X[i+1][j-1]), pool(X[i-1][j])])``.

    ``F`` is a stack of :class:`ResCBAMBlock` (residual block with channel then spatial
    attention): one block at level 0, ``num_blocks[i-1]`` blocks at level ``i >= 1``
    (the full-resolution level dominates the cost, so it is kept shallow).

    **Feature pyramid fusion.** The last node of every level, ``X[i][L-1-i]``, is projected to
    ``nb_filter[0]`` channels by a 1x1 conv (so the upsampled maps stay cheap at full
    resolution), upsampled bilinearly to the input size, concatenated with ``X[0][L-1]`` and
    fused by one :class:`ResCBAMBlock` into ``nb_filter[0]`` channels.

    Pooling uses ``ceil_mode`` and every upsampling targets the exact size of the map it is
    fused with, so any ``H, W`` works and all outputs have the input's size. With the defaults
    the network has about 4.69 M parameters (the usual DNANet setting).

    Args:
        in_channels (int): Input image channels. Default: 1.
        nb_filter (Sequence[int]): Channels per level, fine to coarse.
            Default: ``(16, 32, 64, 128, 256)``.
        num_blocks (Sequence[int]): Residual attention blocks per node at levels
            ``1 .. L-1`` (length ``L-1``). Default: ``(2, 2, 2, 2)``.
        deep_supervision (bool): Also return the nested full-resolution nodes
            ``X[0][1..L-1]`` (for one auxiliary loss each). Default: False.
        pyramid_fusion (bool): Fuse the pyramid of nested outputs (the paper's FPFM). When
            False the last output is ``X[0][L-1]``. Default: True.
        ca_ratio (int): Channel-attention reduction ratio. Default: 16.
        sa_kernel (int): Spatial-attention kernel size. Default: 7.
        conv_cfg (dict, optional): Config of the conv layers. Default: None.
        **kwargs: ``norm_cfg``, ``act_cfg``, ``align_corners``, ``init_cfg`` of
            :class:`BaseBackbone`.

    Attributes:
        num_outs (int): Number of returned tensors: ``L`` with deep supervision, else 1.

    Shape:
        - Input: ``(B, in_channels, H, W)``.
        - Output: with ``deep_supervision=True`` a tuple of ``L`` tensors
          ``(X[0][1], ..., X[0][L-1], fused)``, else ``(fused,)``; every tensor is
          ``(B, nb_filter[0], H, W)``. The last one is what a decode head reads with
          ``in_index=-1``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        nb_filter: Sequence[int] = (16, 32, 64, 128, 256),
        num_blocks: Sequence[int] = (2, 2, 2, 2),
        deep_supervision: bool = False,
        pyramid_fusion: bool = True,
        ca_ratio: int = 16,
        sa_kernel: int = 7,
        conv_cfg: OptConfig = None,
        **kwargs,
    ) -> None:
        super().__init__(in_channels=in_channels, **kwargs)
        nb_filter = list(nb_filter)
        num_levels = len(nb_filter)
        if num_levels < 2:
            raise ValueError('nb_filter needs at least 2 levels')
        if len(num_blocks) != num_levels - 1:
            raise ValueError(
                f'num_blocks needs {num_levels - 1} entries (levels 1..'
                f'{num_levels - 1}), got {len(num_blocks)}'
            )
        self.nb_filter = nb_filter
        self.num_levels = num_levels
        self.deep_supervision = deep_supervision
        self.pyramid_fusion = pyramid_fusion
        blocks_per_level = [1] + list(num_blocks)
        block_kw = dict(
            ca_ratio=ca_ratio,
            sa_kernel=sa_kernel,
            conv_cfg=conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )

        def make_node(cin: int, cout: int, n: int) -> nn.Sequential:
            layers = [ResCBAMBlock(cin, cout, **block_kw)]
            layers += [ResCBAMBlock(cout, cout, **block_kw) for _ in range(n - 1)]
            return nn.Sequential(*layers)

        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        # Keys 'i_j' mirror the paper's X^{i,j} notation.
        self.nodes = nn.ModuleDict()
        for j in range(num_levels):
            for i in range(num_levels - j):
                if j == 0:
                    cin = in_channels if i == 0 else nb_filter[i - 1]
                else:
                    cin = j * nb_filter[i] + nb_filter[i + 1]
                    if i > 0:
                        cin += nb_filter[i - 1]
                self.nodes[f'{i}_{j}'] = make_node(cin, nb_filter[i], blocks_per_level[i])

        if pyramid_fusion:
            self.fpn_proj = nn.ModuleList(
                ConvModule(
                    nb_filter[i],
                    nb_filter[0],
                    1,
                    conv_cfg=conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                )
                for i in range(1, num_levels)
            )
            self.fpn_fuse = ResCBAMBlock(num_levels * nb_filter[0], nb_filter[0], **block_kw)

        self.num_outs: int = num_levels if deep_supervision else 1
        self.feat_channels: Tuple[int, ...] = (nb_filter[0],) * self.num_outs
        self.out_channels: int = nb_filter[0]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the dense nested encoder-decoder and the pyramid fusion.

        Args:
            x (Tensor): Images, ``(B, in_channels, H, W)``.

        Returns:
            tuple[Tensor]: ``(X[0][1], ..., X[0][L-1], fused)`` with deep supervision, else
            ``(fused,)``; each ``(B, nb_filter[0], H, W)``.
        """
        L = self.num_levels
        feats: Dict[Tuple[int, int], Tensor] = {}
        # Column by column, fine to coarse within a column: X[i][j] needs X[i-1][j] (same
        # column, finer) and X[i+1][j-1] (previous column).
        for j in range(L):
            for i in range(L - j):
                if j == 0:
                    inp = x if i == 0 else self.pool(feats[(i - 1, 0)])
                else:
                    same = feats[(i, 0)]
                    parts = [feats[(i, k)] for k in range(j)]
                    parts.append(self.upsample_like(feats[(i + 1, j - 1)], same))
                    if i > 0:
                        parts.append(self.pool(feats[(i - 1, j)]))
                    inp = torch.cat(parts, dim=1)
                feats[(i, j)] = self.nodes[f'{i}_{j}'](inp)

        top = feats[(0, L - 1)]
        if self.pyramid_fusion:
            pyramid = [
                self.upsample_like(proj(feats[(i, L - 1 - i)]), top)
                for i, proj in enumerate(self.fpn_proj, start=1)
            ]
            out = self.fpn_fuse(torch.cat(pyramid[::-1] + [top], dim=1))
        else:
            out = top

        if self.deep_supervision:
            return tuple(feats[(0, j)] for j in range(1, L)) + (out,)
        return (out,)
