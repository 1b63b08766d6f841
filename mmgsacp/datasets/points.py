"""Point labels from masks, and point maps to and from point arrays.

One rule set, shared by the synthetic generator, :class:`PointSIRSTDataset` (``point_type='mask'``
and point-map reading) and ``tools/dataset_converters/make_point_labels.py``:

* A *target* is an 8-connected component of ``mask > 127``.
* Its **centroid point** is the floor of the component's (row, col) mean.
* Its **coarse point** is the centroid plus Gaussian jitter whose spread grows with the target
  (``sigma = sigma_scale * sqrt(area)``), redrawn until it lands on the component itself.
* A *point map* is an image the size of the mask with one lit pixel (255) per point. Reading one
  back takes each 8-connected lit component (value > 127) as one point at its floored centroid,
  so a thick click still counts once.

Points are always ``float32`` arrays of shape (K, 2) holding integer-valued **(x, y)** = (col, row)
pixel coordinates.
"""

from __future__ import annotations

import os
import os.path as osp
import shutil
import tempfile
import zlib
from typing import Optional, Tuple

import cv2
import numpy as np

from ..utils.fileio import replace_dir

#: Grey values above this are foreground, in masks and in point maps alike.
FG_THRESHOLD = 127


def empty_points() -> np.ndarray:
    """Return a (0, 2) float32 point array."""
    return np.zeros((0, 2), dtype=np.float32)


def _components(binary: np.ndarray) -> Tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of a boolean map, as ``cv2.connectedComponentsWithStats``."""
    return cv2.connectedComponentsWithStats(
        binary.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )


def centroid_points(mask: np.ndarray) -> np.ndarray:
    """Centroid points of the targets of a mask.

    Args:
        mask (np.ndarray): (H, W) mask; any dtype. Pixels > 127 are target, unless the mask is
            boolean.

    Returns:
        np.ndarray: (K, 2) float32 (x, y), one row per 8-connected target component, in
        raster order of each component's first pixel.
    """
    binary = mask if mask.dtype == bool else mask > FG_THRESHOLD
    num, _, _, centroids = _components(binary)
    if num <= 1:
        return empty_points()
    # cv2 divides exact integer sums by the area in float64, so an integral mean stays exact
    # and flooring matches numpy's ``floor(mean)`` bit for bit.
    return np.floor(centroids[1:]).astype(np.float32)


def coarse_points(
    mask: np.ndarray,
    rng: np.random.Generator,
    sigma_scale: float = 0.15,
    min_sigma: float = 0.5,
    max_tries: int = 32,
) -> np.ndarray:
    """Coarse points: each target's centroid plus Gaussian jitter, kept on the target.

    The default spread follows SIRST3's own ``masks_coarse`` (offset std about 0.6 px for
    targets under 10 px, about 2 px at 100+ px, i.e. ~0.15 * sqrt(area)).

    Args:
        mask (np.ndarray): (H, W) mask; pixels > 127 (or True) are target.
        rng (np.random.Generator): Source of the jitter.
        sigma_scale (float): Jitter std per axis, in units of sqrt(target area).
        min_sigma (float): Lower bound of the std in pixels.
        max_tries (int): Draws per target before falling back to the target pixel nearest to
            the last draw.

    Returns:
        np.ndarray: (K, 2) float32 (x, y), one per target, each on a pixel of its own
        component, in the same order as :func:`centroid_points`.
    """
    binary = mask if mask.dtype == bool else mask > FG_THRESHOLD
    num, labels, stats, centroids = _components(binary)
    if num <= 1:
        return empty_points()
    h, w = binary.shape
    out = np.empty((num - 1, 2), dtype=np.float32)
    for k in range(1, num):
        cx, cy = np.floor(centroids[k])
        sigma = max(min_sigma, sigma_scale * float(np.sqrt(stats[k, cv2.CC_STAT_AREA])))
        found = False
        for _ in range(max_tries):
            dx, dy = rng.normal(0.0, sigma, size=2)
            x = int(np.clip(np.rint(cx + dx), 0, w - 1))
            y = int(np.clip(np.rint(cy + dy), 0, h - 1))
            if labels[y, x] == k:
                found = True
                break
        if not found:
            # Thin or hollow targets can reject every draw; the nearest pixel of the target
            # keeps the point on it without biasing towards its first raster pixel.
            ys, xs = np.nonzero(labels == k)
            i = int(np.argmin((xs - x) ** 2 + (ys - y) ** 2))
            x, y = int(xs[i]), int(ys[i])
        out[k - 1] = (x, y)
    return out


def points_from_map(point_map: np.ndarray) -> np.ndarray:
    """Read the points of a point map.

    Args:
        point_map (np.ndarray): (H, W) point map; pixels > 127 are lit.

    Returns:
        np.ndarray: (K, 2) float32 (x, y), one per 8-connected lit component, at the floor of
        its centroid (the pixel itself for a one-pixel click).
    """
    return centroid_points(point_map)


def rescale_points(
    points: np.ndarray, src_shape: Tuple[int, int], dst_shape: Tuple[int, int]
) -> np.ndarray:
    """Map points from one pixel frame into another of a different size.

    Pixel centre to pixel centre, so a point stays on the same content: ``floor((p + 0.5) *
    dst / src)``, clipped into the destination frame.

    Args:
        points (np.ndarray): (K, 2) (x, y) in the source frame.
        src_shape (tuple[int, int]): (H, W) of the source frame.
        dst_shape (tuple[int, int]): (H, W) of the destination frame.

    Returns:
        np.ndarray: (K, 2) float32 integer-valued (x, y) in the destination frame.
    """
    (sh, sw), (dh, dw) = src_shape, dst_shape
    scale = np.array([dw / sw, dh / sh], dtype=np.float64)
    out = np.floor((np.asarray(points, dtype=np.float64).reshape(-1, 2) + 0.5) * scale)
    return np.clip(out, 0, [dw - 1, dh - 1]).astype(np.float32)


def render_point_map(points: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Draw points as one lit pixel each.

    Args:
        points (np.ndarray): (K, 2) integer-valued (x, y).
        shape (tuple[int, int]): (H, W) of the map.

    Returns:
        np.ndarray: (H, W) uint8 map, 255 at each point, 0 elsewhere.
    """
    out = np.zeros(shape, dtype=np.uint8)
    if len(points):
        pts = np.asarray(points).astype(np.int64)
        out[pts[:, 1], pts[:, 0]] = 255
    return out


def stem_rng(seed: int, stem: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``stem``.

    Keeps coarse labels of an image fixed whatever else is in the folder and in whatever order
    the files are visited.
    """
    return np.random.default_rng([seed, zlib.crc32(stem.encode('utf-8'))])


def point_labels_from_mask(
    mask: np.ndarray, rng: Optional[np.random.Generator] = None, sigma_scale: float = 0.15
) -> Tuple[np.ndarray, np.ndarray]:
    """Centroid and coarse point maps of a mask, as written to ``masks_centroid/`` and
    ``masks_coarse/``.

    Args:
        mask (np.ndarray): (H, W) mask; pixels > 127 (or True) are target.
        rng (np.random.Generator, optional): Jitter source for the coarse points. Defaults to
            ``np.random.default_rng(0)``.
        sigma_scale (float): See :func:`coarse_points`.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W) uint8 centroid map and coarse map.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    shape = mask.shape[:2]
    centroid = render_point_map(centroid_points(mask), shape)
    coarse = render_point_map(coarse_points(mask, rng, sigma_scale=sigma_scale), shape)
    return centroid, coarse


def write_point_label_dirs(
    data_root: str,
    mask_dir: str = 'masks',
    centroid_dir: str = 'masks_centroid',
    coarse_dir: str = 'masks_coarse',
    seed: int = 0,
    sigma_scale: float = 0.15,
    suffix: str = '.png',
    overwrite: bool = False,
    mask_scale: str = '255',
) -> int:
    """Build centroid and coarse point-map folders from a folder of masks.

    Each output folder is written beside its destination and renamed into place when
    complete. The coarse jitter of an image depends only on ``seed`` and its stem
    (:func:`stem_rng`), so the synthetic generator and this function give identical files.

    Args:
        data_root (str): Dataset folder; the other folders are relative to it.
        mask_dir (str): Folder of masks (target where value > 127).
        centroid_dir (str): Output folder of centroid point maps.
        coarse_dir (str): Output folder of coarse point maps.
        seed (int): Seed of the coarse jitter.
        sigma_scale (float): See :func:`coarse_points`.
        suffix (str): Mask file suffix; point maps are written as PNG with the same stem.
        overwrite (bool): Replace existing non-empty output folders.
        mask_scale (str): How the masks store target pixels (see
            :mod:`mmgsacp.datasets.masks`); a 0/1 mask is refused under the default ``'255'``
            instead of giving an empty point map.

    Returns:
        int: Number of masks processed.

    Raises:
        FileNotFoundError: ``mask_dir`` is missing or holds no ``suffix`` file.
        FileExistsError: An output folder is not empty and ``overwrite`` is False.
        OSError: A mask cannot be read (the message names it).
        MaskValueError: A mask's values break the ``mask_scale`` rule (the message names it).
    """
    # Imported here: the mask module builds on this one's threshold.
    from .masks import check_mask_scale, read_mask

    check_mask_scale(mask_scale)
    src = osp.join(data_root, mask_dir)
    if not osp.isdir(src):
        raise FileNotFoundError(f'mask folder {src} does not exist')
    names = sorted(n for n in os.listdir(src) if n.endswith(suffix))
    if not names:
        raise FileNotFoundError(f'mask folder {src} holds no *{suffix} file')
    dests = [osp.join(data_root, d) for d in (centroid_dir, coarse_dir)]
    for dest in dests:
        if osp.exists(dest) and (not osp.isdir(dest) or os.listdir(dest)) and not overwrite:
            raise FileExistsError(f'{dest} exists and is not empty; pass overwrite to replace it')
    tmps = [tempfile.mkdtemp(prefix=f'.{osp.basename(d)}.tmp_', dir=data_root) for d in dests]
    try:
        for name in names:
            stem = name[: -len(suffix)]
            path = osp.join(src, name)
            mask = read_mask(path, mask_scale)
            maps = point_labels_from_mask(mask, stem_rng(seed, stem), sigma_scale)
            for tmp, point_map in zip(tmps, maps):
                out = osp.join(tmp, stem + '.png')
                if not cv2.imwrite(out, point_map):
                    raise OSError(f'could not write {out}')
        for tmp, dest in zip(tmps, dests):
            replace_dir(tmp, dest)
    except BaseException:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(names)
