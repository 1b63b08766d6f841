"""Grey values of decoded images, masks and point maps."""

from __future__ import annotations

import numpy as np


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
        luma = (
            r.astype(np.uint32) * 19595
            + g.astype(np.uint32) * 38470
            + b.astype(np.uint32) * 7471
            + 0x8000
        ) >> 16
        return luma.astype(np.uint8)
    return 0.299 * r.astype(np.float64) + 0.587 * g + 0.114 * b


def to_gray(img: np.ndarray, path: str) -> np.ndarray:
    """One grey channel of an image decoded with ``cv2.IMREAD_UNCHANGED``.

    Grey (+ alpha) keeps its first channel; colour (+ alpha) becomes ITU-R 601 luma
    (:func:`bgr_to_luma`).

    Args:
        img (np.ndarray): (H, W) or (H, W, C) with C in 1..4.
        path (str): File the array came from, for the error message.

    Returns:
        np.ndarray: (H, W); the input dtype, except float64 for colour deeper than 8 bit.

    Raises:
        ValueError: Another shape; the message names ``path``.
    """
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] in (1, 2):
        return img[..., 0]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return bgr_to_luma(img)
    raise ValueError(f'{path} has shape {img.shape}; expected 1 to 4 channels')
