"""A plain binary (target / background) decode head for infrared small targets."""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.sync_counter import host_only


@MODELS.register_module()
class BinaryIRHead(BaseDecodeHead):
    """Convs + a 1-channel classifier, trained with ignore-aware binary losses.

    Used directly for full supervision (``gt_sem_seg`` holds the true mask, 0/1, 255 = ignore)
    and as the base of :class:`AffinityPropagationHead`. The logits are upsampled to the label
    size, so backbones whose last feature is not at full resolution (e.g. FPN at 1/4) work too.

    Args:
        num_convs (int): 3x3 conv layers before the classifier. Defaults to 1.
        prior_prob (float): initial target probability of every pixel; the classifier's bias
            starts at its logit. Targets cover ~0.1% of the pixels: starting at 0.5 spends the
            first hundreds of iterations pushing the background down, and with it the features
            of the few target pixels into dead ReLUs, a minimum the soft-IoU term barely leaves.
            Defaults to 0.01.
        **kwargs: :class:`BaseDecodeHead` arguments. ``num_classes=2``, ``out_channels=1`` and
            ``threshold=0.5`` are the defaults here (sigmoid probability > 0.5 is a target).
    """

    def __init__(self, num_convs: int = 1, prior_prob: float = 0.01, **kwargs) -> None:
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('out_channels', 1)
        kwargs.setdefault('threshold', 0.5)
        kwargs.setdefault(
            'loss_decode',
            [
                dict(type='IgnoreBCELoss', loss_weight=1.0),
                dict(type='SoftIoULoss', loss_weight=1.0),
            ],
        )
        super().__init__(**kwargs)
        layers: List[nn.Module] = []
        for i in range(num_convs):
            layers.append(
                ConvModule(
                    self.in_channels if i == 0 else self.channels,
                    self.channels,
                    kernel_size=3,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                )
            )
        self.convs = nn.Sequential(*layers) if layers else nn.Identity()
        if not 0.0 < prior_prob < 1.0:
            raise ValueError(f'prior_prob must be in (0, 1), got {prior_prob}')
        self.prior_prob = prior_prob
        if not layers and self.in_channels != self.channels:
            raise ValueError(
                f'num_convs=0 needs in_channels == channels, got '
                f'{self.in_channels} and {self.channels}'
            )
        # Set here as well as in init_weights: MMSeg keeps auxiliary heads in a plain
        # nn.ModuleList, which the model's init_weights does not descend into.
        self._init_prior_bias()

    def _init_prior_bias(self) -> None:
        nn.init.constant_(self.conv_seg.bias, math.log(self.prior_prob / (1 - self.prior_prob)))

    def init_weights(self) -> None:
        super().init_weights()
        self._init_prior_bias()

    def head_features(self, inputs: Sequence[Tensor]) -> Tensor:
        """Shared features of the classifier (and of any embedding branch), (B, C, h, w)."""
        return self.convs(self._transform_inputs(inputs))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Logits (B, 1, h, w) at the resolution of the selected input feature."""
        return self.cls_seg(self.head_features(inputs))

    def losses_from_labels(
        self, seg_logits: Tensor, labels: Tensor, weight: Optional[Tensor] = None
    ) -> Dict[str, Tensor]:
        """Sum every ``loss_decode`` term of logits against a label map.

        Args:
            seg_logits (Tensor): (B, 1, h, w) logits; resized to the labels' size.
            labels (Tensor): (B, H, W) long, 0 background, 1 target, ``ignore_index`` skipped.
            weight (Tensor, optional): (B, H, W) per-pixel weight passed to every term.
        """
        if seg_logits.shape[-2:] != labels.shape[-2:]:
            seg_logits = F.interpolate(
                seg_logits,
                size=labels.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners,
            )
        losses: Dict[str, Tensor] = {}
        loss_modules = (
            self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
        )
        for loss_module in loss_modules:
            value = loss_module(seg_logits, labels, weight=weight, ignore_index=self.ignore_index)
            name = loss_module.loss_name
            losses[name] = losses[name] + value if name in losses else value
        return losses

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples) -> Dict[str, Tensor]:
        labels = self._stack_batch_gt(batch_data_samples).squeeze(1).long()
        return self.losses_from_labels(seg_logits, labels)


def _raise_on_outside_point(
    pts: Tensor, wh: Tensor, rows: List[int], sizes: List[Tuple[int, int]], batch_data_samples
) -> None:
    """Raise a ValueError naming the first point outside its image (host tensors)."""
    bad = ((pts < 0) | (pts >= wh)) & (wh >= 0)
    if bool(bad.any()):
        i = int(bad.any(1).long().argmax())
        b = rows[i]
        x, y = pts[i].tolist()
        w, h = sizes[i]
        raise ValueError(
            f'point (x={x}, y={y}) of sample {b} '
            f'({batch_data_samples[b].metainfo.get("img_path", "?")}) lies outside its '
            f'{h}x{w} image'
        )


def assert_points_inside(pts: Tensor, wh: Tensor) -> None:
    """Fail, without reading back, when a point lies outside its image.

    Args:
        pts (Tensor): (P, 2) long (x, y).
        wh (Tensor): (P, 2) long (width, height) of each point's image; -1 where unknown.

    Raises:
        RuntimeError: through a device-side assertion, which on an accelerator surfaces at
            the next synchronisation (on the CPU at once).
    """
    outside = ((pts < 0) | (pts >= wh)) & (wh >= 0)
    torch._assert_async(
        outside.any().logical_not(),
        'a training point lies outside its image (a pipeline that crops must drop the points '
        'it cuts off)',
    )


def stack_points(batch_data_samples) -> Tensor:
    """Collect each sample's ``gt_points`` (K_i, 2) (x, y) into one (P, 3) long tensor.

    Columns are ``(batch_index, x, y)``, the layout the propagation functions take.

    Raises:
        KeyError: a sample has no ``gt_points``.
        ValueError: a point lies outside its sample's ``img_shape`` (names file and point),
            for points on the host; on an accelerator the same check is a device-side
            assertion (:func:`assert_points_inside`), so that no step waits for it.
    """
    pts_list: List[Tensor] = []
    rows: List[int] = []
    sizes: List[Tuple[int, int]] = []
    for b, sample in enumerate(batch_data_samples):
        if 'gt_points' not in sample:
            raise KeyError(
                f"data sample {b} ({sample.metainfo.get('img_path', '?')}) has no 'gt_points'; "
                'point-supervised training needs LoadIRAnnotations + PackIRInputs'
            )
        pts = torch.as_tensor(sample.gt_points).reshape(-1, 2)
        shape = sample.metainfo.get('img_shape')
        pts_list.append(pts)
        rows += [b] * pts.shape[0]
        # the image's own extent: batch padding must not make an off-image point valid
        sizes += [(int(shape[1]), int(shape[0])) if shape is not None else (-1, -1)] * pts.shape[0]
    if not rows:
        return torch.zeros((0, 3), dtype=torch.long)
    pts = torch.cat(pts_list).round().long()
    wh = torch.tensor(sizes, dtype=torch.long)
    if pts.device.type == 'cpu':
        with host_only():
            _raise_on_outside_point(pts, wh, rows, sizes, batch_data_samples)
    else:
        # Reading the points back would stall the device once per step. The shipped pipelines
        # check them where they are made, on the host (PackIRInputs; the packed preprocessor
        # keeps only points inside its crops), so this is a backstop for other pipelines: a
        # device-side assertion that fails the step without a read-back.
        assert_points_inside(pts, wh.to(pts.device, non_blocking=True))
    batch_index = torch.tensor(rows, dtype=torch.long).to(pts.device, non_blocking=True)
    return torch.cat([batch_index.unsqueeze(1), pts], dim=1)
