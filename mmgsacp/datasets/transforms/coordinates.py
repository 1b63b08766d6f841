"""Original pixel coordinates that travel with the pixels through geometric augmentation.

Methods that keep per-image state in original image coordinates (LESPS's evolving labels) need
to know, for each pixel of a training crop, where it came from. Rather than undoing every crop,
flip, transpose and rotation, the coordinates ride along as one more seg field: every geometric
transform of :mod:`.transforms` moves them exactly as it moves the image.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from torch import Tensor

from .formatting import PackIRInputs

__all__ = ['LoadPixelCoordinates', 'PackIRInputsWithCoords', 'split_pixel_coords']

#: Seg-field key of the coordinate map.
COORDS_KEY = 'pixel_coords'
#: Value of the validity channel on image pixels. Padding writes ``seg_pad_val`` into all
#: channels; no pad value in use (0, 255, -1) equals this, and x / y are never relied on to
#: tell padding apart (they can exceed 255).
VALID_MARK = 0x4C455350


@TRANSFORMS.register_module()
class LoadPixelCoordinates(BaseTransform):
    """Add each pixel's original (x, y) as a seg field, so augmentations carry it.

    Place it right after loading, before any geometric transform.

    Required keys: ``img`` (or ``img_shape``).

    Added keys:

    - pixel_coords (np.ndarray): (H, W, 3) int32: x (column), y (row), and ``VALID_MARK``
      (any other value there, e.g. crop padding, marks a pixel that is not from the image).
      ``'pixel_coords'`` is appended to ``seg_fields``.
    """

    def transform(self, results: dict) -> dict:
        """Add the coordinate map.

        Args:
            results (dict): Sample dict after loading.

        Returns:
            dict: ``results`` with ``pixel_coords``.
        """
        shape = results['img'].shape[:2] if 'img' in results else results['img_shape'][:2]
        h, w = int(shape[0]), int(shape[1])
        coords = np.empty((h, w, 3), dtype=np.int32)
        coords[..., 0] = np.arange(w, dtype=np.int32)[None, :]
        coords[..., 1] = np.arange(h, dtype=np.int32)[:, None]
        coords[..., 2] = VALID_MARK
        results[COORDS_KEY] = coords
        seg_fields = results.setdefault('seg_fields', [])
        if COORDS_KEY not in seg_fields:
            seg_fields.append(COORDS_KEY)
        return results


@TRANSFORMS.register_module()
class PackIRInputsWithCoords(PackIRInputs):
    """:class:`PackIRInputs`, plus the coordinate map of :class:`LoadPixelCoordinates`.

    Extra packed field:

    - data_samples.pixel_coords (torch.Tensor): (3, H, W) int32, channels x, y, validity (see
      :func:`split_pixel_coords`), when ``pixel_coords`` is present. A plain tensor field:
      the data preprocessor's batch padding does not touch it.
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        coords = results.get(COORDS_KEY)
        if coords is not None:
            arr = np.array(coords.transpose(2, 0, 1), dtype=np.int32, order='C')
            packed['data_samples'].set_field(torch.from_numpy(arr), COORDS_KEY, dtype=torch.Tensor)
        return packed


def split_pixel_coords(packed: Tensor) -> Tuple[Tensor, Tensor]:
    """Decode a packed coordinate map.

    Args:
        packed (Tensor): (3, H, W) integer map of :class:`PackIRInputsWithCoords`.

    Returns:
        tuple[Tensor, Tensor]: (H, W, 2) long original (x, y) and (H, W) bool validity.
    """
    valid = packed[2] == VALID_MARK
    coords = packed[:2].permute(1, 2, 0).long()
    return coords, valid
