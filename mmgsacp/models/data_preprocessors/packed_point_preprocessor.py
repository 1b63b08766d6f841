"""Data preprocessor that crops, flips and normalises training batches of a packed split."""

from __future__ import annotations

import math
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from ...datasets.packed import load_packed_split
from ...utils.misc import hw_pair
from ...utils.sync_counter import host_only
from .batch_augment import BatchDraws, batch_point_rows, draw_windows, gather_crops, move_points

_DIRECTIONS = {
    (False, False): None,
    (True, False): 'horizontal',
    (False, True): 'vertical',
    (True, True): 'diagonal',
}


@MODELS.register_module()
class PackedPointDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` that augments packed-split batches on the model's device.

    Training batches of :class:`~mmgsacp.datasets.PackedPointDataset` (through
    :class:`~mmgsacp.datasets.transforms.PackSampleIndex`) carry only sample indices. On the
    first such batch the packed split (named by the samples' ``pack_file``) is read once and
    kept, as flat tensors, on the device of the model; every batch is then cropped, flipped,
    transposed and normalised with a few tensor ops over the whole batch, replacing the
    per-sample pipeline ``TargetAwareRandomCrop`` -> ``RandomFlipIR`` -> ``RandomTranspose``
    -> ``PackIRInputs`` with the same semantics:

    * with probability ``target_prob`` the window holds one of the image's points, drawn at
      random, placed uniformly among the windows that hold it; otherwise (and for an image
      without points) it is uniform over the image. (The per-sample crop falls back to a mask
      component for an image without points; here full masks never choose windows.)
    * an image smaller than the window sits at a random offset inside it; the rest is padded
      with ``img_pad_val`` (before normalisation) and ``seg_pad_val`` in the masks;
    * points outside the window are dropped, the others move with the pixels;
    * each of horizontal / vertical flip with probability ``flip_prob``, then a transpose
      with probability ``transpose_prob``.

    Data samples come out as the ordinary pipeline's after this preprocessor: ``gt_sem_seg``
    (1, h, w) int64 0 / 1 / 255 when the split holds masks (the drift monitor and full
    supervision read it), ``gt_points`` (K, 2) float32 (x, y) in the crop, and metainfo
    ``img_shape``, ``pad_shape``, ``padding_size``, ``flip``, ``flip_direction``,
    ``transpose``. Other batches (validation, or training batches of images) go to
    :class:`SegDataPreProcessor` unchanged.

    Random draws come from a ``torch.Generator`` on the CPU, seeded on the first batch from
    ``seed`` or, when None, from torch's global generator, which MMEngine seeds from
    ``randomness.seed``: runs with one seed crop identically on any device. The rank is added
    to the seed so that processes of a distributed run draw differently. Windows, flips and
    points are worked out on the host (a few numbers a sample) and reach the device in two
    copies from pinned memory that the host does not wait for; only the pixels are gathered
    there, so a step never waits on the device for its data.

    Args:
        crop_size (int | tuple[int, int]): (h, w) of the crop; square when
            ``transpose_prob > 0``, so that every sample of a batch has one shape.
        target_prob (float): Probability of a window that holds a point.
        flip_prob (float): Probability of each of the horizontal and vertical flips.
        transpose_prob (float): Probability of a transpose.
        img_pad_val (float): Raw image value of window pixels outside the image.
        pack_file (str, optional): The packed split to read; None takes the samples'
            ``pack_file`` metainfo (what :class:`PackedPointDataset` sets).
        seed (int, optional): Seed of the crop generator; None derives it as above.
        **kwargs: :class:`SegDataPreProcessor` arguments (``mean``, ``std``, ``size_divisor``,
            ``pad_val``, ``seg_pad_val``, ``test_cfg``, ...).
    """

    def __init__(
        self,
        crop_size: Union[int, Tuple[int, int]],
        target_prob: float = 0.9,
        flip_prob: float = 0.5,
        transpose_prob: float = 0.5,
        img_pad_val: float = 0.0,
        pack_file: Optional[str] = None,
        seed: Optional[int] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        crop_size = hw_pair(crop_size)
        for name, prob in (
            ('target_prob', target_prob),
            ('flip_prob', flip_prob),
            ('transpose_prob', transpose_prob),
        ):
            if not 0.0 <= prob <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {prob}')
        if transpose_prob > 0 and crop_size[0] != crop_size[1]:
            raise ValueError(
                f'transpose_prob > 0 needs a square crop_size, got {crop_size}: '
                'a transposed sample would not stack with the others'
            )
        self.crop_size = crop_size
        self.target_prob = float(target_prob)
        self.flip_prob = float(flip_prob)
        self.transpose_prob = float(transpose_prob)
        self.img_pad_val = float(img_pad_val)
        self.pack_file = None if pack_file is None else osp.abspath(pack_file)
        self.seed = seed
        self._bank: Dict[str, torch.Tensor] = {}
        self._host: Dict[str, torch.Tensor] = {}
        self._bank_file: Optional[str] = None
        self._generator: Optional[torch.Generator] = None

    # ------------------------------------------------------------------ bank
    def _load_bank(self, pack_file: str) -> None:
        arrays = load_packed_split(pack_file)
        index = torch.from_numpy(arrays['index'])
        points = torch.from_numpy(arrays['points'])
        image_of_point = points[:, 0].long()
        count = torch.bincount(image_of_point, minlength=len(index))
        if len(image_of_point) and bool((image_of_point[1:] < image_of_point[:-1]).any()):
            raise ValueError(f'packed split {pack_file}: points are not grouped by image')
        # Pixels live on the model's device; the bookkeeping (windows, points, flips) is a few
        # numbers per sample and stays on the host, so that no step waits for the device.
        self._host = dict(
            index=index,
            points_xy=points[:, 1:].contiguous(),
            point_count=count,
            point_start=torch.cumsum(count, 0) - count,
        )
        bank = dict(images=torch.from_numpy(arrays['images']))
        if arrays['masks'].size:
            bank['masks'] = torch.from_numpy(arrays['masks'])
        self._bank = {k: v.to(self.device) for k, v in bank.items()}
        self._bank_file = pack_file

    def _ensure_bank(self, data_samples: Sequence) -> None:
        pack_file = self.pack_file
        if pack_file is None:
            files = {s.metainfo.get('pack_file') for s in data_samples}
            if None in files:
                raise KeyError(
                    'a training sample has no pack_file metainfo; give the data '
                    'preprocessor pack_file= or use PackedPointDataset with '
                    'PackSampleIndex'
                )
            if len(files) > 1:
                raise ValueError(f'one batch mixes packed splits {sorted(files)}')
            pack_file = files.pop()
        if pack_file != self._bank_file:
            self._load_bank(pack_file)
        elif self._bank['images'].device != self.device:
            self._bank = {k: v.to(self.device) for k, v in self._bank.items()}

    def _draw(
        self, shapes: torch.Tensor, sample_points: Tuple[torch.Tensor, torch.Tensor], num: int
    ) -> BatchDraws:
        """The batch's windows and flips, drawn on the host's generator."""
        if self._generator is None:
            seed = self.seed if self.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
            self._generator = torch.Generator().manual_seed(seed + get_rank())
        u = torch.rand((7, num), generator=self._generator)
        start, count = sample_points
        # One of each sample's points (a valid row even without points: masked out below).
        pick = start + (u[1] * count).long().minimum((count - 1).clamp(min=0))
        has_points = count > 0
        bank_xy = self._host['points_xy']
        target_xy = (
            bank_xy[pick.clamp(max=max(len(bank_xy) - 1, 0))]
            if len(bank_xy)
            else torch.zeros((num, 2))
        )
        targeted = (u[0] < self.target_prob) & has_points
        y0, x0 = draw_windows(shapes, target_xy, targeted, self.crop_size, u[2], u[3])
        return BatchDraws(
            y0=y0,
            x0=x0,
            hflip=u[4] < self.flip_prob,
            vflip=u[5] < self.flip_prob,
            transpose=u[6] < self.transpose_prob,
        )

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A host tensor on the model's device without waiting for the copy (pinned memory)."""
        if self.device.type == 'cuda':
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def _plan(self, idx: torch.Tensor):
        """Windows, flips and moved points of a batch, on the host.

        Args:
            idx (Tensor): (B,) int64 sample indices (host).

        Returns:
            tuple: (B, 3) ``index`` rows, :class:`BatchDraws`, (K, 2) moved points in sample
            order, per-sample point counts (list) and per-sample [hflip, vflip, transpose].
        """
        host = self._host
        if bool((idx < 0).any() or (idx >= len(host['index'])).any()):
            raise IndexError(
                f'sample index out of range of packed split {self._bank_file} '
                f'({len(host["index"])} images)'
            )
        index = host['index'][idx]
        start, count = host['point_start'][idx], host['point_count'][idx]
        draws = self._draw(index[:, 1:], (start, count), len(idx))
        rows, batch = batch_point_rows(start, count)
        moved, keep = move_points(host['points_xy'][rows], batch, draws, self.crop_size)
        moved, batch = moved[keep], batch[keep]
        per_sample = torch.bincount(batch, minlength=len(idx)).tolist()
        flips = torch.stack([draws.hflip, draws.vflip, draws.transpose], 1).tolist()
        return index, draws, moved, per_sample, flips

    # ------------------------------------------------------------------ forward
    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Augment a packed training batch; anything else goes to the parent.

        Args:
            data (dict): ``inputs`` (list of () int64 sample indices for a packed batch) and
                ``data_samples``.
            training (bool): Training step.

        Returns:
            dict: ``inputs`` (B, 1, h, w) float32 normalised and the filled ``data_samples``.
        """
        inputs = data['inputs']
        if not training or not all(torch.is_tensor(x) and x.ndim == 0 for x in inputs):
            return super().forward(data, training)
        data_samples = data['data_samples']
        self._ensure_bank(data_samples)
        idx = torch.stack(list(inputs)).long()
        if idx.device.type != 'cpu':  # the loader gives host indices; a caller's moved them
            idx = idx.cpu()
        with host_only():  # every tensor of the plan is a host tensor: nothing waits
            index, draws, moved, per_sample, flips = self._plan(idx)

        # (B, 8): offset, H, W, y0, x0, hflip, vflip, transpose
        plan = self._to_device(torch.stack([*index.unbind(1), *(d.long() for d in draws)], 1))
        dev_draws = BatchDraws(
            plan[:, 3], plan[:, 4], plan[:, 5].bool(), plan[:, 6].bool(), plan[:, 7].bool()
        )
        banks, pads = [self._bank['images']], [self.img_pad_val]
        if 'masks' in self._bank:
            banks.append(self._bank['masks'])
            pads.append(int(self.seg_pad_val))
        crops = gather_crops(tuple(banks), tuple(pads), plan[:, :3], dev_draws, self.crop_size)
        images = crops[0].unsqueeze(1)
        if self._enable_normalize:
            images = (images - self.mean) / self.std
        masks = crops[1].unsqueeze(1) if len(crops) > 1 else None
        moved = self._to_device(moved.contiguous())

        images, masks, pad_info = self._pad_batch(images, masks)
        for b, (sample, pts) in enumerate(zip(data_samples, torch.split(moved, per_sample))):
            if masks is not None:
                sample.gt_sem_seg = PixelData(data=masks[b])
            sample.set_field(pts, 'gt_points', dtype=torch.Tensor)
            hflip, vflip, transpose = flips[b]
            sample.set_metainfo(
                dict(
                    pad_info,
                    flip=hflip or vflip,
                    flip_direction=_DIRECTIONS[(hflip, vflip)],
                    transpose=transpose,
                )
            )
        return dict(inputs=images, data_samples=data_samples)

    def _pad_batch(self, images: torch.Tensor, masks: Optional[torch.Tensor]):
        """Pad to ``size`` / ``size_divisor`` as :func:`mmseg.utils.stack_batch` does."""
        h, w = images.shape[-2:]
        if self.size is not None:
            th, tw = max(h, self.size[0]), max(w, self.size[1])
        elif self.size_divisor is not None:
            th = int(math.ceil(h / self.size_divisor)) * self.size_divisor
            tw = int(math.ceil(w / self.size_divisor)) * self.size_divisor
        else:
            th, tw = h, w
        padding = [0, tw - w, 0, th - h]
        if th != h or tw != w:
            images = F.pad(images, padding, value=self.pad_val)
            if masks is not None:
                masks = F.pad(masks, padding, value=self.seg_pad_val)
        return images, masks, dict(img_shape=(th, tw), pad_shape=(th, tw), padding_size=padding)
