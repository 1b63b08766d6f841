"""A light U-shaped network for deployment: a thin full-resolution detail path beside a
depthwise-separable encoder-decoder that starts at stride 2."""

from __future__ import annotations

from typing import Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule, build_activation_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.layers import MultiConfig
from .base_backbone import BaseBackbone


class DSResBlock(BaseModule):
    """Depthwise 3x3 -> pointwise 1x1, added to its input, then the activation.

    Per output pixel it costs ``9 C + C**2`` multiply-adds, against ``18 C**2`` for the two
    dense 3x3 convs of :class:`~mmgsacp.models.utils.layers.ConvBlock`.

    Args:
        channels (int): Input and output channels ``C``.
        dilation (int): Dilation of the depthwise conv (a wider view at the same cost).
            Default: 1.
        norm_cfg (dict): Config of the norm layers. Default: ``dict(type='BN')``.
        act_cfg (dict): Config of the activations. Default: ``dict(type='ReLU')``.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        dilation: int = 1,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg: MultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        # The pointwise output has no activation of its own: it is applied after the sum, as
        # in a ResNet basic block.
        self.conv = DepthwiseSeparableConvModule(
            channels,
            channels,
            3,
            padding=dilation,
            dilation=dilation,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            pw_act_cfg=None,
        )
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.conv(x))


@MODELS.register_module()
class LiteUNet(BaseBackbone):
    """Light U-Net backbone for infrared small-target detection on a few CPU cores.

    Two paths meet at the end:

    * **detail**: one dense 3x3 conv on the frame at full resolution, ``detail_channels``
      wide. Targets of 1-10 px can vanish from a stride-2 map; this path keeps their exact
      position and contrast.
    * **context**: a dense 3x3 stride-2 stem on the frame, then level ``i``
      (``i = 0 .. len(channels)-1``) at stride ``2**(i+1)`` with ``channels[i]`` channels and
      ``num_blocks[i]`` depthwise-separable residual blocks (:class:`DSResBlock`); a
      depthwise-separable stride-2 conv goes from one level to the next. The decoder adds the
      coarser map, projected by a 1x1 conv to the finer level's channels and upsampled
      bilinearly to its exact size, to the encoder's map of that level and refines the sum with
      one block. The last step adds the stride-2 map, projected to ``detail_channels`` and
      upsampled to full size, to the detail features and refines that with one block.

    The projection runs before the upsampling (at the coarse level) and the fusion is a sum,
    not a concatenation, so each decoder step costs about as much as one block. Every
    upsampling targets the skip's exact size and every strided conv pads by 1, so any ``H, W``
    works without padding and the last output has the input's size.

    With the defaults (``detail_channels=8, channels=(16, 32, 64, 128),
    num_blocks=(1, 2, 3, 3)``) the network has about 0.1 M parameters and needs about 2.9
    GFLOPs per megapixel (2 per multiply-add, with a 1x1 classifier), against about 86 for
    :class:`CompactUNet`.

    Args:
        in_channels (int): Input image channels. Default: 1.
        detail_channels (int): Channels of the full-resolution path and of the last output.
            Default: 8.
        channels (Sequence[int]): Channels of the levels at strides 2, 4, 8, ... (>= 2 levels).
            Default: (16, 32, 64, 128).
        num_blocks (Sequence[int]): Encoder blocks per level, ``len(channels)`` values >= 0.
            Default: (1, 2, 3, 3).
        deep_dilation (int): Dilation of the encoder blocks of the deepest level, to widen
            the view of the context without another level. Default: 2.
        **kwargs: ``norm_cfg``, ``act_cfg``, ``align_corners``, ``init_cfg`` of
            :class:`BaseBackbone`.

    Shape:
        - Input: ``(B, in_channels, H, W)``.
        - Output: tuple of ``len(channels) + 1`` tensors, coarse to fine: the deepest encoder
          map ``(B, channels[-1], ~H/2**L, ~W/2**L)`` (``L = len(channels)``), the decoder maps
          ``(B, channels[i], ~H/2**(i+1), ~W/2**(i+1))`` for ``i = L-2 .. 0``, and last
          ``(B, detail_channels, H, W)`` (use ``in_index=-1`` in the decode head).
    """

    def __init__(
        self,
        in_channels: int = 1,
        detail_channels: int = 8,
        channels: Sequence[int] = (16, 32, 64, 128),
        num_blocks: Sequence[int] = (1, 2, 3, 3),
        deep_dilation: int = 2,
        **kwargs,
    ) -> None:
        super().__init__(in_channels=in_channels, **kwargs)
        channels, num_blocks = tuple(channels), tuple(num_blocks)
        if len(channels) < 2:
            raise ValueError(f'channels needs >= 2 levels, got {channels}')
        if len(num_blocks) != len(channels) or min(num_blocks) < 0:
            raise ValueError(
                f'num_blocks needs {len(channels)} values >= 0 (one per level of '
                f'channels={channels}), got {num_blocks}'
            )
        if deep_dilation < 1:
            raise ValueError(f'deep_dilation must be >= 1, got {deep_dilation}')
        conv_kw = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        levels = len(channels)

        self.detail = ConvModule(in_channels, detail_channels, 3, padding=1, **conv_kw)
        # A dense stem on the frame itself, beside the detail conv rather than after it: on the
        # detail features it would cost detail_channels times more for the same output.
        self.stem = ConvModule(in_channels, channels[0], 3, stride=2, padding=1, **conv_kw)
        self.downs = nn.ModuleList(
            DepthwiseSeparableConvModule(
                channels[i - 1], channels[i], 3, stride=2, padding=1, **conv_kw
            )
            for i in range(1, levels)
        )
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(
                    DSResBlock(c, deep_dilation if i == levels - 1 else 1, **conv_kw)
                    for _ in range(n)
                )
            )
            for i, (c, n) in enumerate(zip(channels, num_blocks))
        )
        # laterals[k] / fuses[k] build level levels-2-k; the last pair builds the full-size map.
        targets = list(reversed(channels[:-1])) + [detail_channels]
        sources = list(reversed(channels))
        self.laterals = nn.ModuleList(
            ConvModule(src, dst, 1, norm_cfg=self.norm_cfg, act_cfg=None)
            for src, dst in zip(sources, targets)
        )
        self.fuses = nn.ModuleList(DSResBlock(c, **conv_kw) for c in targets)

        self.feat_channels: Tuple[int, ...] = (channels[-1], *targets)
        self.out_channels: int = detail_channels

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run both paths.

        Args:
            x (Tensor): Images, ``(B, in_channels, H, W)``.

        Returns:
            tuple[Tensor]: ``len(channels) + 1`` features, coarse to fine (see the class
            docstring); the last is ``(B, detail_channels, H, W)``.
        """
        detail = self.detail(x)
        x = self.stages[0](self.stem(x))
        skips = [detail, x]
        for down, stage in zip(self.downs, self.stages[1:]):
            x = stage(down(x))
            skips.append(x)
        outs = [x]
        for lateral, fuse, skip in zip(self.laterals, self.fuses, reversed(skips[:-1])):
            x = fuse(skip + self.upsample_like(lateral(x), skip))
            outs.append(x)
        return tuple(outs)
