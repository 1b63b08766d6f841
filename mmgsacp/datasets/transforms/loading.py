"""Loading of single-channel infrared frames, masks and point labels."""
from __future__ import annotations

from typing import Optional

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..points import FG_THRESHOLD, empty_points


def bgr_to_luma(img: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of a BGR(A) image, as the field's loaders compute it.

    8-bit input follows PIL's ``Image.convert('L')`` exactly (fixed-point weights
    19595/38470/7471 over 2^16, rounded), so an RGB-stored frame reads as the same grey values
    as SIRST3's pre-converted images. Other depths use the float weights 0.299/0.587/0.114.

    Args:
        img (np.ndarray): (H, W, 3 or 4) BGR or BGRA; alpha is ignored.

    Returns:
        np.ndarray: (H, W) uint8 for uint8 input, float64 otherwise.
    """
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    if img.dtype == np.uint8:
        luma = (r.astype(np.uint32) * 19595 + g.astype(np.uint32) * 38470 +
                b.astype(np.uint32) * 7471 + 0x8000) >> 16
        return luma.astype(np.uint8)
    return 0.299 * r.astype(np.float64) + 0.587 * g + 0.114 * b


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
        img = self._to_8bit_scale(self._reduce_channels(decoded, path), path, depth)
        results['img'] = img[..., None]
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    @staticmethod
    def _reduce_channels(img: np.ndarray, path: str) -> np.ndarray:
        if img.ndim == 2:
            return img
        if img.ndim == 3 and img.shape[2] in (1, 2):
            # Grey (+ alpha): the first channel is the grey value.
            return img[..., 0]
        if img.ndim == 3 and img.shape[2] in (3, 4):
            return bgr_to_luma(img)
        raise ValueError(f'image {path} has shape {img.shape}; expected 1 to 4 channels')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(bit16={self.bit16!r}, backend_args={self.backend_args})'


@TRANSFORMS.register_module()
class LoadIRAnnotations(BaseTransform):
    """Load the full mask and/or carry the point labels of a sample.

    Masks are binarised at > 127, so grey boundary values (e.g. 64 in some IRSTD-1K masks)
    are background, as the field's evaluation does.

    Required keys: ``img_path``; ``seg_map_path`` (for the mask); ``gt_points`` (optional);
    ``img_shape`` (optional, for checks).

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

    def __init__(self,
                 with_mask: bool = True,
                 with_points: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.with_mask = with_mask
        self.with_points = with_points
        self.backend_args = backend_args.copy() if backend_args else None

    def _load_mask(self, results: dict) -> None:
        path = results['seg_map_path']
        raw = fileio.get(path, backend_args=self.backend_args)
        mask = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise OSError(f'cannot decode mask {path}')
        if mask.ndim == 3:
            mask = bgr_to_luma(mask) if mask.shape[2] >= 3 else mask[..., 0]
        if mask.dtype == np.uint16:
            mask = mask / 257.0
        shape = results.get('img_shape')
        if shape is not None and tuple(mask.shape) != tuple(shape):
            raise ValueError(f'mask {path} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its '
                             f"image {results.get('img_path')} is {shape[1]}x{shape[0]}")
        results['gt_seg_map'] = (mask > FG_THRESHOLD).astype(np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')

    def _load_points(self, results: dict) -> None:
        points = results.get('gt_points')
        points = empty_points() if points is None else np.array(
            points, dtype=np.float32).reshape(-1, 2)
        shape = results.get('img_shape')
        if shape is None and 'gt_seg_map' in results:
            shape = results['gt_seg_map'].shape
        if shape is not None and len(points):
            h, w = shape[:2]
            bad = ((points[:, 0] < 0) | (points[:, 0] >= w) | (points[:, 1] < 0) |
                   (points[:, 1] >= h))
            if bad.any():
                x, y = points[int(np.argmax(bad))]
                raise ValueError(f"point (x={x:g}, y={y:g}) of {results.get('img_path')} lies "
                                 f'outside its {w}x{h} (WxH) image')
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
        return (f'{self.__class__.__name__}(with_mask={self.with_mask}, '
                f'with_points={self.with_points}, backend_args={self.backend_args})')
