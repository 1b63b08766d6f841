"""Synthetic infrared small-target frames in the SIRST3 layout.

Each frame is a single-channel 8-bit image built from the clutter that makes real IRSTD hard:

* a smooth power-law (1/f^beta) background,
* clouds: thresholded smooth fields with soft edges, brighter or darker than the sky,
* bright structures: lines, building-like blocks with hot corners, sea-glint streaks,
* sensor effects: vignetting, Gaussian read noise, column fixed-pattern noise, dead/hot pixels,

plus 0 to a few small targets (1 to ~150 px; Gaussian blobs, ellipses, irregular unions of
blobs) of varied contrast. Targets are kept apart so that every 8-connected mask component is
exactly one target.

The output folder matches SIRST3 (``images/``, ``masks/``, ``masks_centroid/``,
``masks_coarse/``, ``img_idx/train_synthetic.txt``, ``img_idx/test_synthetic.txt``) so
:class:`~mmgsacp.datasets.PointSIRSTDataset` reads it unchanged. Same seed and arguments give
byte-identical files.
"""

from __future__ import annotations

import os
import os.path as osp
import shutil
import tempfile
from functools import lru_cache
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

from ..utils.fileio import replace_dir
from .points import centroid_points, coarse_points, render_point_map, stem_rng

Size = Tuple[int, int]

#: Folders written for each frame, in SIRST3's names.
LAYOUT_DIRS = ('images', 'masks', 'masks_centroid', 'masks_coarse')
TARGET_SHAPES = ('gauss', 'ellipse', 'irregular')


@lru_cache(maxsize=8)
def _radial_frequency(h: int, w: int) -> np.ndarray:
    """(H, W) |f| of the FFT grid, with the DC bin set to +inf so 1/f is 0 there."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = np.inf
    return f


def power_law_fields(
    rng: np.random.Generator, shape: Size, beta: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Two independent zero-mean, unit-std fields with power spectrum ~ 1/f^beta.

    The real and imaginary parts of one complex inverse FFT are independent fields with the
    same spectrum, so a single transform yields both.

    Args:
        rng (np.random.Generator): Noise source.
        shape (tuple[int, int]): (H, W).
        beta (float): Spectral exponent; 2 is natural-scene-like, larger is smoother.

    Returns:
        tuple[np.ndarray, np.ndarray]: Two (H, W) float64 fields.
    """
    h, w = shape
    amp = _radial_frequency(h, w) ** (-beta / 2.0)
    spec = (rng.standard_normal((h, w)) + 1j * rng.standard_normal((h, w))) * amp
    field = np.fft.ifft2(spec)
    out = []
    for part in (field.real, field.imag):
        std = part.std()
        out.append((part - part.mean()) / (std if std > 0 else 1.0))
    return out[0], out[1]


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def _clouds(rng: np.random.Generator, shape: Size) -> np.ndarray:
    """Cloud layer in grey levels: soft-edged blobs of a smooth field, with inner texture."""
    smooth, texture = power_law_fields(rng, shape, beta=rng.uniform(3.0, 3.8))
    thr = np.quantile(smooth, rng.uniform(0.35, 0.8))
    # A narrow transition gives the sharp cloud rims that fire false alarms; a wide one gives
    # haze.
    width = rng.uniform(0.03, 0.4)
    cover = 1.0 / (1.0 + np.exp(-(smooth - thr) / width))
    amp = rng.uniform(15, 70) * (1.0 if rng.random() < 0.7 else -0.6)
    return amp * cover * (1.0 + 0.15 * texture)


def _lines(rng: np.random.Generator, shape: Size) -> np.ndarray:
    h, w = shape
    canvas = np.zeros(shape, np.float32)
    for _ in range(rng.integers(1, 5)):
        p0 = (int(rng.integers(-w // 4, w + w // 4)), int(rng.integers(-h // 4, h + h // 4)))
        p1 = (int(rng.integers(-w // 4, w + w // 4)), int(rng.integers(-h // 4, h + h // 4)))
        cv2.line(canvas, p0, p1, float(rng.uniform(10, 60)), int(rng.integers(1, 4)), cv2.LINE_AA)
    return _blur(canvas, 0.7).astype(np.float64)


def _buildings(rng: np.random.Generator, shape: Size) -> np.ndarray:
    h, w = shape
    canvas = np.zeros(shape, np.float32)
    for _ in range(rng.integers(1, 7)):
        bw, bh = rng.uniform(6, 60, size=2)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        box = cv2.boxPoints(((cx, cy), (bw, bh), rng.uniform(0, 90)))
        cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], float(rng.uniform(10, 80)))
        # Hot corners are target-sized bright spots on a structure: hard negatives.
        for corner in box[rng.random(4) < 0.3]:
            cv2.circle(
                canvas,
                (int(corner[0]), int(corner[1])),
                int(rng.integers(1, 3)),
                float(rng.uniform(40, 120)),
                -1,
            )
    return _blur(canvas, rng.uniform(0.6, 1.5)).astype(np.float64)


def _glint(rng: np.random.Generator, shape: Size) -> np.ndarray:
    """Sea-glint: many short, mostly horizontal streaks in a band of the frame."""
    h, w = shape
    canvas = np.zeros(shape, np.float32)
    top = int(rng.uniform(0.3, 0.8) * h)
    tilt = rng.uniform(-10, 10)
    for _ in range(rng.integers(20, 150)):
        c = (int(rng.integers(0, w)), int(rng.integers(top, h)))
        axes = (int(rng.integers(2, 8)), int(rng.integers(0, 2)))
        cv2.ellipse(canvas, c, axes, tilt, 0, 360, float(rng.uniform(10, 60)), -1)
    return _blur(canvas, 0.6).astype(np.float64)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    num, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if num <= 2:
        return mask
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == keep


def _grid(radius: int, offset: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a (2r+1)^2 patch relative to a sub-pixel centre."""
    v, u = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float64)
    return u - offset[0], v - offset[1]


def _rotated(u: np.ndarray, v: np.ndarray, angle: float) -> Tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    return c * u + s * v, -s * u + c * v


def _target_patch(
    rng: np.random.Generator, area: float, kind: str
) -> Tuple[np.ndarray, np.ndarray]:
    """One target, as a square patch.

    Args:
        rng (np.random.Generator): Shape source.
        area (float): Intended mask area in pixels (the raster gives roughly this).
        kind (str): One of :data:`TARGET_SHAPES`.

    Returns:
        tuple[np.ndarray, np.ndarray]: (P, P) bool mask, one 8-connected component, and
        (P, P) float64 intensity profile with peak 1 (it may spill a little past the mask, like
        a real point-spread function).
    """
    aspect = rng.uniform(1.0, 2.5)
    angle = rng.uniform(0, np.pi)
    offset = rng.uniform(-0.5, 0.5, size=2)
    if kind == 'gauss':
        # {profile >= 0.3} of an elliptical Gaussian has area 2 ln(1/0.3) pi sx sy.
        sxy = area / (2 * np.log(1 / 0.3) * np.pi)
        sx = np.sqrt(sxy * aspect)
        sy = sx / aspect
        radius = int(np.ceil(3 * sx)) + 2
        u, v = _rotated(*_grid(radius, offset), angle)
        profile = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
        mask = profile >= 0.3 * profile.max()
    else:
        a = np.sqrt(area / np.pi * aspect)
        radius = int(np.ceil(2 * a)) + 3
        u0, v0 = _grid(radius, offset)
        if kind == 'ellipse':
            blobs = [(0.0, 0.0, a, a / aspect, angle)]
        else:
            n = int(rng.integers(2, 5))
            blobs = []
            for _ in range(n):
                r = a * rng.uniform(0.35, 0.75)
                blobs.append(
                    (
                        *rng.uniform(-0.6, 0.6, size=2) * a,
                        r,
                        r / rng.uniform(1.0, 2.0),
                        rng.uniform(0, np.pi),
                    )
                )
        mask = np.zeros(u0.shape, bool)
        for bx, by, ra, rb, ang in blobs:
            u, v = _rotated(u0 - bx, v0 - by, ang)
            mask |= (u / ra) ** 2 + (v / rb) ** 2 <= 1.0
        if not mask.any():
            mask[radius, radius] = True
        mask = _largest_component(mask)
        # Plateau with a hotter core, softened by the optics.
        core = np.exp(-0.5 * (u0**2 + v0**2) / max(a, 0.5) ** 2)
        profile = _blur(
            (mask * (0.6 + 0.4 * core)).astype(np.float32), rng.uniform(0.5, 1.2)
        ).astype(np.float64)
    if not mask.any():
        mask[np.unravel_index(np.argmax(profile), profile.shape)] = True
    # A thin, tilted raster can fall apart into diagonal-free pieces; one target must be one
    # component.
    mask = _largest_component(mask)
    peak = profile.max()
    return mask, profile / (peak if peak > 0 else 1.0)


def _sample_num_targets(rng: np.random.Generator, empty_prob: float, max_targets: int) -> int:
    if max_targets <= 0 or rng.random() < empty_prob:
        return 0
    weights = 0.5 ** np.arange(max_targets)
    return 1 + int(rng.choice(max_targets, p=weights / weights.sum()))


def synthesize_frame(
    rng: np.random.Generator,
    size: Size = (256, 256),
    empty_prob: float = 0.1,
    max_targets: int = 5,
    target_area: Tuple[float, float] = (1, 150),
    min_gap: int = 3,
) -> Tuple[np.ndarray, np.ndarray]:
    """Render one frame and its mask.

    Args:
        rng (np.random.Generator): The only randomness source.
        size (tuple[int, int]): (H, W).
        empty_prob (float): Probability of a frame without targets.
        max_targets (int): Most targets in a frame (1 is twice as likely as 2, and so on).
        target_area (tuple[float, float]): Range of intended target areas in pixels, sampled
            log-uniformly. Rasterised areas stay inside it.
        min_gap (int): Smallest gap in pixels between target bounding boxes, so targets
            never merge into one component and their centroids never touch.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W) uint8 image and (H, W) uint8 mask (0/255).
    """
    h, w = size
    bg, _ = power_law_fields(rng, size, beta=rng.uniform(1.6, 2.6))
    img = rng.uniform(30, 150) + rng.uniform(4, 25) * bg
    if rng.random() < 0.6:
        img += _clouds(rng, size)
    for layer, prob in ((_lines, 0.35), (_buildings, 0.35), (_glint, 0.25)):
        if rng.random() < prob:
            img += layer(rng, size)
    if rng.random() < 0.5:
        yy, xx = np.mgrid[0:h, 0:w]
        r2 = ((yy - h / 2) / h) ** 2 + ((xx - w / 2) / w) ** 2
        img *= 1.0 - rng.uniform(0.0, 0.6) * r2

    noise_std = rng.uniform(1.0, 6.0)
    mask = np.zeros(size, bool)
    boxes: List[Tuple[int, int, int, int]] = []
    lo, hi = np.log(max(target_area[0], 1)), np.log(target_area[1])
    for _ in range(_sample_num_targets(rng, empty_prob, max_targets)):
        kind = TARGET_SHAPES[int(rng.integers(len(TARGET_SHAPES)))]
        for _ in range(10):
            tmask, profile = _target_patch(rng, float(np.exp(rng.uniform(lo, hi))), kind)
            if target_area[0] <= tmask.sum() <= target_area[1]:
                break
        else:
            tmask, profile = _target_patch(rng, float(target_area[0]), 'gauss')
        ys, xs = np.nonzero(tmask)
        p = tmask.shape[0]
        if p + 2 > min(h, w):
            continue
        for _ in range(20):
            y0 = int(rng.integers(1, h - p))
            x0 = int(rng.integers(1, w - p))
            box = (x0 + xs.min(), y0 + ys.min(), x0 + xs.max(), y0 + ys.max())
            if all(
                box[0] > b[2] + min_gap
                or box[2] < b[0] - min_gap
                or box[1] > b[3] + min_gap
                or box[3] < b[1] - min_gap
                for b in boxes
            ):
                break
        else:
            continue
        boxes.append(box)
        snr = np.exp(rng.uniform(np.log(2.5), np.log(40.0)))
        amp = float(np.clip(snr * max(noise_std, 2.0), 6.0, 200.0))
        img[y0 : y0 + p, x0 : x0 + p] += amp * profile
        mask[y0 : y0 + p, x0 : x0 + p] |= tmask

    img += rng.normal(0.0, noise_std, size=size)
    if rng.random() < 0.3:
        img += rng.normal(0.0, rng.uniform(0.5, 3.0), size=(1, w))
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        n_bad = int(rng.integers(1, 9))
        yy = rng.integers(0, h, size=n_bad)
        xx = rng.integers(0, w, size=n_bad)
        hot = rng.random(n_bad) < 0.6
        values = np.where(hot, rng.integers(200, 256, size=n_bad), 0).astype(np.uint8)
        # A dead pixel inside a target would cut it; bad pixels are background clutter.
        keep = ~mask[yy, xx]
        out[yy[keep], xx[keep]] = values[keep]
    return out, mask.astype(np.uint8) * 255


def _as_sizes(size: Union[int, Size, Sequence[Size]]) -> List[Size]:
    if isinstance(size, int):
        return [(size, size)]
    size = list(size)
    if len(size) == 2 and all(isinstance(s, (int, np.integer)) for s in size):
        return [(int(size[0]), int(size[1]))]
    return [(int(s[0]), int(s[1])) for s in size]


def _write_png(path: str, img: np.ndarray) -> None:
    if not cv2.imwrite(path, img):
        raise OSError(f'could not write {path}')


def make_synthetic_dataset(
    out_dir: str,
    num_train: int = 160,
    num_test: int = 40,
    size: Union[int, Size, Sequence[Size]] = (256, 256),
    seed: int = 0,
    empty_prob: float = 0.1,
    max_targets: int = 5,
    target_area: Tuple[float, float] = (1, 150),
    coarse_sigma_scale: float = 0.15,
    overwrite: bool = False,
) -> Dict[str, object]:
    """Write a synthetic IRSTD set in the SIRST3 layout.

    The folder is built beside ``out_dir`` and renamed into place only when complete, so a
    crash never leaves a half-written set.

    Args:
        out_dir (str): Folder to create.
        num_train (int): Frames listed in ``img_idx/train_synthetic.txt``.
        num_test (int): Frames listed in ``img_idx/test_synthetic.txt``.
        size (int | tuple[int, int] | list[tuple[int, int]]): Frame size (H, W); with a list,
            each frame draws one of them.
        seed (int): Everything is a function of the seed and the other arguments; frame ``i``
            only depends on ``(seed, i)`` and the arguments.
        empty_prob (float): Share of frames without targets.
        max_targets (int): Most targets in one frame.
        target_area (tuple[float, float]): Target mask area range in pixels.
        coarse_sigma_scale (float): Jitter of the coarse points (see
            :func:`~mmgsacp.datasets.points.coarse_points`).
        overwrite (bool): Replace an existing non-empty ``out_dir``.

    Returns:
        dict: ``out_dir``, ``train`` and ``test`` (lists of stems), ``num_targets``,
        ``num_empty``.

    Raises:
        FileExistsError: ``out_dir`` exists, is not empty, and ``overwrite`` is False.
    """
    out_dir = osp.abspath(os.fspath(out_dir))
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise FileExistsError(f'{out_dir} exists and is not a folder')
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'{out_dir} is not empty; pass overwrite=True to replace it')
    sizes = _as_sizes(size)
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out_dir)}.tmp_', dir=parent)
    try:
        for d in LAYOUT_DIRS + ('img_idx',):
            os.makedirs(osp.join(tmp, d))
        splits = {'train': [], 'test': []}
        num_targets = num_empty = 0
        for i in range(num_train + num_test):
            stem = f'syn_{i:06d}'
            rng = np.random.default_rng([seed, i])
            frame_size = sizes[int(rng.integers(len(sizes)))]
            img, mask = synthesize_frame(rng, frame_size, empty_prob, max_targets, target_area)
            centroids = centroid_points(mask)
            # Same jitter stream as tools/dataset_converters/make_point_labels.py, so
            # rebuilding the labels of a synthetic set reproduces them.
            coarse = coarse_points(mask, stem_rng(seed, stem), sigma_scale=coarse_sigma_scale)
            num_targets += len(centroids)
            num_empty += int(len(centroids) == 0)
            name = stem + '.png'
            _write_png(osp.join(tmp, 'images', name), img)
            _write_png(osp.join(tmp, 'masks', name), mask)
            _write_png(
                osp.join(tmp, 'masks_centroid', name), render_point_map(centroids, frame_size)
            )
            _write_png(osp.join(tmp, 'masks_coarse', name), render_point_map(coarse, frame_size))
            splits['train' if i < num_train else 'test'].append(stem)
        for split, stems in splits.items():
            with open(osp.join(tmp, 'img_idx', f'{split}_synthetic.txt'), 'w') as f:
                f.write(''.join(s + '\n' for s in stems))
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dict(
        out_dir=out_dir,
        train=splits['train'],
        test=splits['test'],
        num_targets=num_targets,
        num_empty=num_empty,
    )
