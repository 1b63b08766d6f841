"""Geometric augmentations that move point labels together with the pixels.

MMSeg's own crop/flip transforms move ``img`` and the ``seg_fields`` only; a point label left
behind would supervise the wrong pixel. Every transform here maps ``img`` (H, W, C), every map
named in ``seg_fields`` (H, W) and ``gt_points`` ((K, 2) float32 (x, y)) by the same pixel
mapping, and updates ``img_shape``.

Randomness comes from ``np.random`` so MMEngine's seeding (``randomness.seed`` and per-worker
seeds) makes runs repeatable.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from ...utils.misc import hw_pair
from ..points import empty_points

__all__ = [
    'TargetAwareRandomCrop',
    'RandomFlipIR',
    'RandomTranspose',
    'RandomRot90',
    'flip_points',
    'rot90_points',
    'cuts_near_points',
]


def _map_sample(
    results: dict,
    pixels: Callable[[np.ndarray], np.ndarray],
    points: Callable[[np.ndarray, Tuple[int, int]], np.ndarray],
) -> dict:
    """Move a sample by one pixel mapping: ``pixels`` maps ``img`` and every seg field,
    ``points(gt_points, (H, W) before)`` maps the point labels the same way; refreshes
    ``img_shape``."""
    shape = _current_shape(results)
    # ``copy(order='C')`` rather than ``ascontiguousarray``: the latter keeps a flipped view
    # of a size-1 axis as is, negative stride included.
    if 'img' in results:
        results['img'] = pixels(results['img']).copy(order='C')
    for key in results.get('seg_fields', []):
        if key in results:
            results[key] = pixels(results[key]).copy(order='C')
    results['img_shape'] = _current_shape(results)
    gt_points = _points(results)
    if gt_points is not None:
        results['gt_points'] = points(gt_points, shape)
    return results


def _current_shape(results: dict) -> Tuple[int, int]:
    if 'img' in results:
        return tuple(results['img'].shape[:2])
    for key in results.get('seg_fields', []):
        if key in results:
            return tuple(results[key].shape[:2])
    return tuple(results['img_shape'][:2])


def _points(results: dict) -> Optional[np.ndarray]:
    points = results.get('gt_points')
    if points is None:
        return None
    return np.asarray(points, dtype=np.float32).reshape(-1, 2)


def flip_points(points: np.ndarray, shape: Tuple[int, int], direction: str) -> np.ndarray:
    """Flip (K, 2) (x, y) points in an (H, W) frame.

    Args:
        points (np.ndarray): (K, 2) (x, y).
        shape (tuple[int, int]): (H, W) before (and after) the flip.
        direction (str): ``'horizontal'`` (mirror x), ``'vertical'`` (mirror y) or
            ``'diagonal'`` (both).

    Returns:
        np.ndarray: (K, 2) float32.
    """
    h, w = shape
    out = points.astype(np.float32).copy()
    if direction in ('horizontal', 'diagonal'):
        out[:, 0] = w - 1 - out[:, 0]
    if direction in ('vertical', 'diagonal'):
        out[:, 1] = h - 1 - out[:, 1]
    return out


def rot90_points(points: np.ndarray, shape: Tuple[int, int], k: int) -> np.ndarray:
    """Rotate (K, 2) (x, y) points as ``np.rot90(img, k)`` rotates pixels (counter-clockwise).

    Args:
        points (np.ndarray): (K, 2) (x, y).
        shape (tuple[int, int]): (H, W) before the rotation.
        k (int): Quarter turns.

    Returns:
        np.ndarray: (K, 2) float32 in the rotated frame.
    """
    h, w = shape
    out = points.astype(np.float32).copy()
    for _ in range(k % 4):
        # One counter-clockwise quarter turn: new[row, col] = old[col, W - 1 - row].
        out = np.stack([out[:, 1], w - 1 - out[:, 0]], axis=1)
        h, w = w, h
    return out.reshape(-1, 2).astype(np.float32)


def _crop_pad(
    arr: np.ndarray, y0: int, x0: int, size: Tuple[int, int], pad_val: Union[int, float]
) -> np.ndarray:
    """Crop ``arr`` to ``size`` at (y0, x0); parts of the window outside ``arr`` get
    ``pad_val``."""
    ch, cw = size
    h, w = arr.shape[:2]
    out = np.full((ch, cw) + arr.shape[2:], pad_val, dtype=arr.dtype)
    ys, ye = max(y0, 0), min(y0 + ch, h)
    xs, xe = max(x0, 0), min(x0 + cw, w)
    if ye > ys and xe > xs:
        out[ys - y0 : ye - y0, xs - x0 : xe - x0] = arr[ys:ye, xs:xe]
    return out


def cuts_near_points(
    points: np.ndarray, y0: np.ndarray, x0: np.ndarray, crop_size: Tuple[int, int], margin: int
) -> np.ndarray:
    """Which windows leave a point outside them but within ``margin`` pixels.

    Args:
        points (np.ndarray): (K, 2) (x, y) in the image frame.
        y0 (np.ndarray): (N,) window rows (top).
        x0 (np.ndarray): (N,) window columns (left).
        crop_size (tuple[int, int]): (h, w) of the windows.
        margin (int): Chebyshev distance from the window within which an outside point counts.

    Returns:
        np.ndarray: (N,) bool.
    """
    ch, cw = crop_size
    px, py = points[None, :, 0], points[None, :, 1]
    top, left = y0[:, None].astype(np.float64), x0[:, None].astype(np.float64)
    # Distance outside the window along each axis (0 inside); a point is inside when
    # top <= y < top + ch, the rule the crop uses to keep it.
    dy = np.maximum(np.maximum(top - py, py - (top + ch - 1)), 0)
    dx = np.maximum(np.maximum(left - px, px - (left + cw - 1)), 0)
    outside = (py < top) | (py >= top + ch) | (px < left) | (px >= left + cw)
    return (outside & (np.maximum(dy, dx) <= margin)).any(1)


@TRANSFORMS.register_module()
class TargetAwareRandomCrop(BaseTransform):
    """Random crop that, most of the time, holds a target.

    With probability ``target_prob`` a target is picked at random (a point of ``gt_points``
    when the sample has any, otherwise a random pixel of a random 8-connected component of
    ``gt_seg_map == 1``) and the crop window is placed uniformly among the windows that contain
    it; otherwise (or without targets) the window is uniform over the image. An image smaller
    than the crop is placed at a random offset inside the window and the rest is padded
    (``img`` with ``pad_val``, seg fields with ``seg_pad_val``, 255 = ignore). Points outside
    the window are dropped.

    A window edge can cut a target whose point falls just outside: its visible pixels then
    carry no point, and a point-supervised loss learns them as background. With
    ``point_margin > 0`` such windows are avoided: up to ``max_tries`` windows are drawn at
    once and the first that leaves no point outside it within ``point_margin`` pixels
    (Chebyshev distance to the window) is taken; if none does, the first draw is kept. Full
    masks are never looked at, so point-supervised configs may use it.

    Required keys: ``img`` and/or seg fields; optional ``gt_points``, ``gt_seg_map``.

    Modified keys: ``img``, seg fields, ``gt_points``, ``img_shape``.

    Args:
        crop_size (int | tuple[int, int]): (h, w) of the crop.
        target_prob (float): Probability of a target-holding crop.
        pad_val (float): Image padding value.
        seg_pad_val (int): Seg-field padding value.
        point_margin (int): Avoid windows with a point outside them closer than this
            (pixels); 0 draws one window, as before.
        max_tries (int): Windows drawn at once when ``point_margin > 0``.
    """

    def __init__(
        self,
        crop_size: Union[int, Tuple[int, int]],
        target_prob: float = 0.9,
        pad_val: float = 0,
        seg_pad_val: int = 255,
        point_margin: int = 0,
        max_tries: int = 16,
    ) -> None:
        crop_size = hw_pair(crop_size)
        if not 0.0 <= target_prob <= 1.0:
            raise ValueError(f'target_prob must be in [0, 1], got {target_prob}')
        if point_margin < 0 or max_tries < 1:
            raise ValueError(
                f'need point_margin >= 0 and max_tries >= 1, got {point_margin} and {max_tries}'
            )
        self.crop_size = crop_size
        self.target_prob = target_prob
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.point_margin = int(point_margin)
        self.max_tries = int(max_tries)

    @staticmethod
    def _offset_range(length: int, crop: int) -> Tuple[int, int]:
        """Inclusive range of window starts; negative starts place a short image inside."""
        return (0, length - crop) if length >= crop else (length - crop, 0)

    def _target_pixel(self, results: dict) -> Optional[Tuple[int, int]]:
        points = _points(results)
        if points is not None and len(points):
            x, y = points[np.random.randint(len(points))]
            return int(y), int(x)
        seg = results.get('gt_seg_map')
        if seg is None:
            return None
        num, labels = cv2.connectedComponents((seg == 1).astype(np.uint8), connectivity=8)
        if num <= 1:
            return None
        ys, xs = np.nonzero(labels == np.random.randint(1, num))
        i = np.random.randint(len(ys))
        return int(ys[i]), int(xs[i])

    @cache_randomness
    def _choose_window(self, results: dict) -> Tuple[int, int]:
        h, w = _current_shape(results)
        ch, cw = self.crop_size
        (ylo, yhi), (xlo, xhi) = self._offset_range(h, ch), self._offset_range(w, cw)
        target = self._target_pixel(results) if np.random.rand() < self.target_prob else None
        if target is not None:
            ty, tx = target
            # Windows [y0, y0 + ch) that contain row ty: y0 in [ty - ch + 1, ty].
            ylo, yhi = max(ylo, ty - ch + 1), min(yhi, ty)
            xlo, xhi = max(xlo, tx - cw + 1), min(xhi, tx)
        points = _points(results)
        if self.point_margin == 0 or points is None or not len(points):
            return np.random.randint(ylo, yhi + 1), np.random.randint(xlo, xhi + 1)
        y0 = np.random.randint(ylo, yhi + 1, size=self.max_tries)
        x0 = np.random.randint(xlo, xhi + 1, size=self.max_tries)
        clean = ~cuts_near_points(points, y0, x0, self.crop_size, self.point_margin)
        i = int(np.argmax(clean))  # the first clean window, or the first draw if none is
        return int(y0[i]), int(x0[i])

    def transform(self, results: dict) -> dict:
        """Crop (and pad) the sample.

        Args:
            results (dict): Sample dict.

        Returns:
            dict: ``results`` at ``crop_size``.
        """
        y0, x0 = self._choose_window(results)
        if 'img' in results:
            results['img'] = _crop_pad(results['img'], y0, x0, self.crop_size, self.pad_val)
        for key in results.get('seg_fields', []):
            if key in results:
                results[key] = _crop_pad(results[key], y0, x0, self.crop_size, self.seg_pad_val)
        results['img_shape'] = self.crop_size
        points = _points(results)
        if points is not None:
            shifted = points - np.array([x0, y0], dtype=np.float32)
            ch, cw = self.crop_size
            inside = (
                (shifted[:, 0] >= 0)
                & (shifted[:, 0] < cw)
                & (shifted[:, 1] >= 0)
                & (shifted[:, 1] < ch)
            )
            results['gt_points'] = shifted[inside] if inside.any() else empty_points()
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(crop_size={self.crop_size}, '
            f'target_prob={self.target_prob}, pad_val={self.pad_val}, '
            f'seg_pad_val={self.seg_pad_val}, point_margin={self.point_margin}, '
            f'max_tries={self.max_tries})'
        )


@TRANSFORMS.register_module()
class RandomFlipIR(BaseTransform):
    """Random horizontal and/or vertical flip, points included.

    Each direction in ``direction`` is flipped independently with probability ``prob``, so
    the default reaches all four flip states.

    Modified keys: ``img``, seg fields, ``gt_points``.

    Added keys: ``flip`` (bool) and ``flip_direction`` (None, ``'horizontal'``,
    ``'vertical'`` or ``'diagonal'`` for both).

    Args:
        prob (float): Flip probability of each direction.
        direction (str | Sequence[str]): ``'horizontal'`` and/or ``'vertical'``.
    """

    def __init__(
        self, prob: float = 0.5, direction: Union[str, Sequence[str]] = ('horizontal', 'vertical')
    ) -> None:
        direction = (direction,) if isinstance(direction, str) else tuple(direction)
        if not set(direction) <= {'horizontal', 'vertical'}:
            raise ValueError(f"direction must be 'horizontal' and/or 'vertical', got {direction}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.direction = direction

    @cache_randomness
    def _choose(self) -> Optional[str]:
        chosen = {d for d in self.direction if np.random.rand() < self.prob}
        if len(chosen) == 2:
            return 'diagonal'
        return chosen.pop() if chosen else None

    def transform(self, results: dict) -> dict:
        """Flip the sample.

        Args:
            results (dict): Sample dict.

        Returns:
            dict: Flipped ``results``.
        """
        direction = self._choose()
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        if direction is None:
            return results
        axes = {'horizontal': (1,), 'vertical': (0,), 'diagonal': (0, 1)}[direction]
        return _map_sample(
            results,
            lambda a: np.flip(a, axis=axes),
            lambda p, shape: flip_points(p, shape, direction),
        )

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, direction={self.direction})'


@TRANSFORMS.register_module()
class RandomTranspose(BaseTransform):
    """Random transpose (swap rows and columns), points included.

    Modified keys: ``img``, seg fields, ``gt_points``, ``img_shape``.

    Added keys: ``transpose`` (bool).

    Args:
        prob (float): Transpose probability.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _choose(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        """Transpose the sample.

        Args:
            results (dict): Sample dict.

        Returns:
            dict: Transposed ``results``.
        """
        results['transpose'] = self._choose()
        if not results['transpose']:
            return results
        return _map_sample(results, lambda a: np.swapaxes(a, 0, 1), lambda p, _: p[:, [1, 0]])

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class RandomRot90(BaseTransform):
    """Random rotation by a multiple of 90 degrees, points included.

    With probability ``prob`` the sample turns counter-clockwise (as ``np.rot90``) by ``k``
    quarter turns, ``k`` drawn uniformly from ``ks``.

    Modified keys: ``img``, seg fields, ``gt_points``, ``img_shape``.

    Added keys: ``rot90`` (int, quarter turns applied; 0 when none).

    Args:
        prob (float): Rotation probability.
        ks (Sequence[int]): Allowed quarter-turn counts.
    """

    def __init__(self, prob: float = 0.5, ks: Sequence[int] = (1, 2, 3)) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if not ks:
            raise ValueError('ks must not be empty')
        self.prob = prob
        self.ks = tuple(int(k) for k in ks)

    @cache_randomness
    def _choose(self) -> int:
        if np.random.rand() >= self.prob:
            return 0
        return self.ks[np.random.randint(len(self.ks))] % 4

    def transform(self, results: dict) -> dict:
        """Rotate the sample.

        Args:
            results (dict): Sample dict.

        Returns:
            dict: Rotated ``results``.
        """
        k = self._choose()
        results['rot90'] = k
        if k == 0:
            return results
        return _map_sample(
            results,
            lambda a: np.rot90(a, k, axes=(0, 1)),
            lambda p, shape: rot90_points(p, shape, k),
        )

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, ks={self.ks})'
