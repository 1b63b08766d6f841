"""Masks and point maps to boolean target maps, under one value rule.

The field's rule is that a pixel of an 8-bit mask is target where its value is > 127. Applied
blindly, a mask saved as 0/1 (a label map) reads as empty, and so does any mask whose values
never pass 127: every metric and every point label built from it is silently wrong. So each
file is checked on its own values before it is binarised:

=================================  ==========================  ============  =================
values in the file                 ``mask_scale='255'``        ``'01'``      ``'auto'``
                                   (default)
=================================  ==========================  ============  =================
all 0                              empty (an image without targets, valid in every mode)
only 0 and 1 (max 1)               **error**                   1 is target   1 is target
max 2..127 (nothing above 127)     **error**: it would read as empty, in every mode
max > 127                          > 127 is target             **error**     > 127 is target
=================================  ==========================  ============  =================

Grey values between 0 and 255 in a mask whose maximum is above 127 are accepted and are
background when <= 127: the official IRSTD-1K masks hold such values at target boundaries
(e.g. 64), and the field scores them this way. 16-bit files follow the same table on the
8-bit scale (value / 257), except that "only 0 and 1" is judged on the raw values.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .gray import to_gray
from .points import FG_THRESHOLD

#: Accepted values of ``mask_scale`` (see the module docstring).
MASK_SCALES = ('255', '01', 'auto')
#: How a dataset user selects another scale; tools pass their own flag's wording.
DATASET_HINT = "mask_scale='01' (every mask is 0/1) or mask_scale='auto' (decided per file)"


class MaskValueError(ValueError):
    """A mask or point map whose values the target rule would misread; names the file."""


def check_mask_scale(mask_scale: str) -> str:
    """Return ``mask_scale`` if it is one of :data:`MASK_SCALES`, else raise ValueError."""
    if mask_scale not in MASK_SCALES:
        raise ValueError(f'mask_scale must be one of {MASK_SCALES}, got {mask_scale!r}')
    return mask_scale


def binarize_mask(
    values: np.ndarray,
    source: str,
    mask_scale: str = '255',
    what: str = 'mask',
    hint: str = DATASET_HINT,
) -> np.ndarray:
    """Target pixels of a mask or point map, refusing values the rule would misread.

    Args:
        values (np.ndarray): (H, W) grey values: bool (returned as is), uint8, uint16, or
            float on the 16-bit scale (luma of a 16-bit colour file).
        source (str): The file, named in errors.
        mask_scale (str): ``'255'``, ``'01'`` or ``'auto'`` (see the module docstring).
        what (str): What the file is (``'mask'``, ``'point map'``, ``'prediction'``), for
            errors.
        hint (str): How the caller's user selects another ``mask_scale``, for errors.

    Returns:
        np.ndarray: (H, W) bool, True on target pixels.

    Raises:
        MaskValueError: The file's values break the rule of ``mask_scale``.
    """
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    check_mask_scale(mask_scale)
    top = values.max() if values.size else 0
    if top == 0:
        return np.zeros(values.shape, dtype=bool)
    if top == 1:
        if mask_scale == '255':
            raise MaskValueError(
                f'{what} {source} holds only 0 and 1, so under the rule "target where value > '
                f'127" it would read as empty; if target is 1 in these files, pass {hint}'
            )
        return values == 1
    if mask_scale == '01':
        raise MaskValueError(
            f'{what} {source} has values up to {top:g} but mask_scale is '
            "'01' (only 0 and 1 expected)"
        )
    # 16-bit values are compared on the 8-bit scale the loaders use (v / 257).
    threshold = FG_THRESHOLD if values.dtype == np.uint8 else FG_THRESHOLD * 257
    if top <= threshold:
        raise MaskValueError(
            f'{what} {source} has values up to {top:g} but none above {threshold} (the target '
            'threshold), so it would read as empty; save target pixels as 255'
        )
    return values > threshold


def decode_mask(data: bytes, source: str, what: str = 'mask') -> np.ndarray:
    """Decode an encoded mask or point map to one grey channel.

    Args:
        data (bytes): The encoded file (PNG, BMP, ...).
        source (str): The file, named in errors.
        what (str): What the file is, for errors.

    Returns:
        np.ndarray: (H, W) uint8 or uint16 (float64 for 16-bit colour).

    Raises:
        OSError: The data cannot be decoded (truncated or not an image).
        ValueError: Unsupported channel count or pixel type.
    """
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise OSError(f'cannot decode {what} {source}')
    if decoded.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{what} {source} has pixel type {decoded.dtype}; expected 8 or 16 bit')
    return to_gray(decoded, source)


def read_mask(
    path: str,
    mask_scale: str = '255',
    what: str = 'mask',
    hint: str = DATASET_HINT,
    data: Optional[bytes] = None,
) -> np.ndarray:
    """Read a mask or point map file as a boolean target map.

    Args:
        path (str): The file.
        mask_scale (str): See :func:`binarize_mask`.
        what (str): What the file is, for errors.
        hint (str): How the caller's user selects another ``mask_scale``, for errors.
        data (bytes, optional): The file's bytes when the caller already has them.

    Returns:
        np.ndarray: (H, W) bool, True on target pixels.

    Raises:
        OSError: The file is missing or cannot be decoded.
        MaskValueError: See :func:`binarize_mask`.
    """
    if data is None:
        with open(path, 'rb') as f:
            data = f.read()
    return binarize_mask(decode_mask(data, path, what), path, mask_scale, what, hint)
