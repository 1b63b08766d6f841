"""Loading of single-channel infrared frames, masks and point labels."""

from __future__ import annotations

from typing import Optional

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..gray import bgr_to_luma, to_gray
from ..masks import binarize_mask, check_mask_scale, decode_mask
from ..points import empty_points

__all__ = ['bgr_to_luma', 'LoadIRImageFromFile', 'LoadIRAnnotations']


@TRANSFORMS.register_module()
class LoadIRImageFromFile(BaseTransform):
    """Load an image file as one grey channel on the 8-bit scale.

    Accepts grayscale (L), grey+alpha, RGB, RGBA, palette (P) and 16-bit files. Colour is
    reduced with ITU-R 601 luma (see :func:`bgr_to_luma`); alpha is dropped; palettes are
    expanded first. 16-bit data are mapped to [0, 255]:

    * ``bit16='scale'``: ``v * 255 / 65535`` (keeps absolute radiometry across frames),
    * ``bit16='minmax'``: ``(v - min) / (max - min) * 255`` per frame (a constant frame -> 0).

    Required keys: ``img_path``.

    Added keys:

    - img (np.ndarray): (H, W, 1) float32, values in [0, 255] (8-bit values are exact).
    - img_shape (tuple[int, int]): (H, W).
    - ori_shape (tuple[int, int]): (H, W).

    Args:
        bit16 (str): ``'scale'`` or ``'minmax'``.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self, bit16: str = 'scale', backend_args: Optional[dict] = None) -> None:
        if bit16 not in ('scale', 'minmax'):
            raise ValueError(f"bit16 must be 'scale' or 'minmax', got {bit16!r}")
        self.bit16 = bit16
        self.backend_args = backend_args.copy() if backend_args else None

    def _to_8bit_scale(self, img: np.ndarray, path: str, depth: np.dtype) -> np.ndarray:
        if depth == np.uint8:
            return img.astype(np.float32)
        if depth == np.uint16:
            img = img.astype(np.float64)
            if self.bit16 == 'scale':
                return (img * (255.0 / 65535.0)).astype(np.float32)
            lo, hi = float(img.min()), float(img.max())
            if hi <= lo:
                return np.zeros(img.shape, np.float32)
            return ((img - lo) * (255.0 / (hi - lo))).astype(np.float32)
        raise ValueError(f'image {path} has pixel type {depth}; expected 8 or 16 bit')

    def transform(self, results: dict) -> dict:
        """Load ``results['img_path']``.

        Args:
            results (dict): Needs ``img_path``.

        Returns:
            dict: ``results`` with ``img`` (H, W, 1) float32, ``img_shape``, ``ori_shape``.
        """
        path = results['img_path']
        raw = fileio.get(path, backend_args=self.backend_args)
        decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
        if decoded is None:
            raise OSError(f'cannot decode image {path}')
        depth = decoded.dtype
        img = self._to_8bit_scale(to_gray(decoded, path), path, depth)
        results['img'] = img[..., None]
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(bit16={self.bit16!r}, backend_args={self.backend_args})'


@TRANSFORMS.register_module()
class LoadIRAnnotations(BaseTransform):
    """Load the full mask and/or carry the point labels of a sample.

    Masks are binarised at > 127, so grey boundary values (e.g. 64 in some IRSTD-1K masks)
    are background, as the field's evaluation does. A mask holding only 0 and 1, or with no
    value above 127 at all, is refused naming the file unless the sample's ``mask_scale``
    allows it (see :mod:`mmgsacp.datasets.masks`); an all-zero mask is a valid empty mask.

    Required keys: ``img_path``; ``seg_map_path`` (for the mask); ``gt_points`` (optional);
    ``img_shape`` (optional, for checks); ``mask_scale`` (optional, ``'255'`` when absent).

    Added / updated keys:

    - gt_seg_map (np.ndarray): (H, W) uint8, 0 background / 1 target (with ``with_mask`` and a
      ``seg_map_path``); ``'gt_seg_map'`` is appended to ``seg_fields``.
    - gt_points (np.ndarray): (K, 2) float32 (x, y), a copy of the data info's points, (0, 2)
      when it has none (with ``with_points``). Without ``with_points`` the key is removed, so
      no points reach the model.

    Args:
        with_mask (bool): Load the full mask when the sample has one.
        with_points (bool): Keep (and check) the point labels.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(
        self, with_mask: bool = True, with_points: bool = True, backend_args: Optional[dict] = None
    ) -> None:
        self.with_mask = with_mask
        self.with_points = with_points
        self.backend_args = backend_args.copy() if backend_args else None

    def _load_mask(self, results: dict) -> None:
        path = results['seg_map_path']
        raw = fileio.get(path, backend_args=self.backend_args)
        mask = decode_mask(raw, path)
        shape = results.get('img_shape')
        if shape is not None and tuple(mask.shape) != tuple(shape):
            raise ValueError(
                f'mask {path} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its '
                f'image {results.get("img_path")} is {shape[1]}x{shape[0]}'
            )
        mask_scale = check_mask_scale(results.get('mask_scale', '255'))
        results['gt_seg_map'] = binarize_mask(mask, path, mask_scale).astype(np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')

    def _load_points(self, results: dict) -> None:
        points = results.get('gt_points')
        points = (
            empty_points() if points is None else np.array(points, dtype=np.float32).reshape(-1, 2)
        )
        shape = results.get('img_shape')
        if shape is None and 'gt_seg_map' in results:
            shape = results['gt_seg_map'].shape
        if shape is not None and len(points):
            h, w = shape[:2]
            bad = (
                (points[:, 0] < 0) | (points[:, 0] >= w) | (points[:, 1] < 0) | (points[:, 1] >= h)
            )
            if bad.any():
                x, y = points[int(np.argmax(bad))]
                raise ValueError(
                    f'point (x={x:g}, y={y:g}) of {results.get("img_path")} lies '
                    f'outside its {w}x{h} (WxH) image'
                )
        results['gt_points'] = points

    def transform(self, results: dict) -> dict:
        """Load the mask and/or points.

        Args:
            results (dict): Sample dict from the dataset (and the image loader).

        Returns:
            dict: ``results`` with ``gt_seg_map`` and/or ``gt_points`` set.
        """
        if self.with_mask and results.get('seg_map_path'):
            self._load_mask(results)
        if self.with_points:
            self._load_points(results)
        else:
            results.pop('gt_points', None)
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(with_mask={self.with_mask}, '
            f'with_points={self.with_points}, backend_args={self.backend_args})'
        )
