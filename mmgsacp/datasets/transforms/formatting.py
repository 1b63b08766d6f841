"""Packing of single-channel samples with point labels."""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

__all__ = ['PackIRInputs', 'PackSampleIndex']


def _check_points_inside(points: np.ndarray, hw: Tuple[int, int], results: dict) -> None:
    """Raise a ValueError naming the file when a point (as training rounds it) lies outside.

    Checked here, on the host, so that training never reads points back from a device.
    """
    h, w = hw
    xy = np.round(points)
    outside = (xy < 0).any(1) | (xy[:, 0] >= w) | (xy[:, 1] >= h)
    if outside.any():
        x, y = points[int(np.argmax(outside))].tolist()
        raise ValueError(
            f'point (x={x:g}, y={y:g}) of {results.get("img_path", "a sample")} lies outside its '
            f'{h}x{w} image after the pipeline (a transform that crops must drop the points '
            'it cuts off)'
        )


@TRANSFORMS.register_module()
class PackIRInputs(BaseTransform):
    """Pack an infrared sample into ``inputs`` and a :class:`SegDataSample`.

    Packed fields:

    - inputs (torch.Tensor): (1, H, W) float32, contiguous (any (H, W, C) image gives
      (C, H, W)).
    - data_samples.gt_sem_seg (PixelData): ``data`` (1, H, W) int64, 0 / 1 / 255 (ignore),
      when ``gt_seg_map`` is present.
    - data_samples.gt_points (torch.Tensor): (K, 2) float32 (x, y) pixel coordinates of the
      packed image, when ``gt_points`` is present ((0, 2) for an image without points).
    - data_samples.metainfo: each of ``meta_keys`` found in the sample.

    Args:
        meta_keys (Sequence[str]): Sample keys copied into the metainfo.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = (
            'img_path',
            'seg_map_path',
            'ori_shape',
            'img_shape',
            'stem',
            'part',
            'flip',
            'flip_direction',
            'transpose',
            'rot90',
            'reduce_zero_label',
        ),
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): Sample dict from the pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        packed = dict()
        if 'img' in results:
            img = results['img']
            if img.ndim == 2:
                img = img[..., None]
            # Fresh C-order copies: flipped views can keep negative strides (even ones that
            # ``ascontiguousarray`` accepts as contiguous, on size-1 axes), which torch rejects.
            packed['inputs'] = torch.from_numpy(
                np.array(img.transpose(2, 0, 1), dtype=np.float32, order='C')
            )

        data_sample = SegDataSample()
        if 'gt_seg_map' in results:
            seg = np.array(results['gt_seg_map'], dtype=np.int64, order='C')
            data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(seg[None]))
        if 'gt_points' in results:
            points = np.array(results['gt_points'], dtype=np.float32, order='C').reshape(-1, 2)
            if 'img' in results:
                _check_points_inside(points, results['img'].shape[:2], results)
            data_sample.set_field(torch.from_numpy(points), 'gt_points', dtype=torch.Tensor)
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        packed['data_samples'] = data_sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackSampleIndex(BaseTransform):
    """Pack a sample of a packed split as its index, for batched augmentation.

    Pixels stay in the data preprocessor's in-memory copy of the split
    (:class:`~mmgsacp.models.data_preprocessors.PackedPointDataPreProcessor`), which crops,
    flips and normalises the whole batch at once and fills in the data samples.

    Packed fields:

    - inputs (torch.Tensor): () int64, the sample's ``pack_idx``.
    - data_samples.metainfo: each of ``meta_keys`` found in the sample.

    Args:
        meta_keys (Sequence[str]): Sample keys copied into the metainfo; ``pack_idx`` and
            ``pack_file`` are needed by the preprocessor.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = (
            'pack_idx',
            'pack_file',
            'img_path',
            'ori_shape',
            'stem',
            'part',
            'sample_idx',
        ),
    ) -> None:
        self.meta_keys = tuple(meta_keys)
        missing = {'pack_idx', 'pack_file'} - set(self.meta_keys)
        if missing:
            raise ValueError(f'meta_keys must hold {sorted(missing)}')

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): Data info of :class:`PackedPointDataset`.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        if 'pack_idx' not in results:
            raise KeyError(
                'PackSampleIndex needs samples of a PackedPointDataset '
                f"(no 'pack_idx' in the sample of {results.get('img_path', '?')})"
            )
        data_sample = SegDataSample()
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(
            inputs=torch.tensor(int(results['pack_idx']), dtype=torch.long),
            data_samples=data_sample,
        )

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
