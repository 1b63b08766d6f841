"""How small a packed split can be: lossless codecs and entropy bounds on a sample of its images.

A packed split (:mod:`mmgsacp.datasets.packed`) must hold its images losslessly: the fast path
has to crop the very pixels the per-sample pipeline reads. Its size is therefore bounded by how
predictable the images are. This module measures, on every ``every``-th image of a split, what
the lossless coders at hand achieve (deflate as ``np.savez_compressed`` writes it, deflate and
LZMA on prediction residuals, PNG, lossless WebP, reversible JPEG 2000) and two entropy figures
of the residuals of the median edge detector (MED, the predictor of LOCO-I / JPEG-LS; Weinberger
et al., IEEE TIP 2000):

* order 0: one symbol table for every residual, the size of an ideal static coder;
* with an activity context: one table per class of local gradient activity
  ``|a - c| + |b - c| + |b - d|`` (15 classes), the size of an ideal coder with the kind of
  context modelling JPEG-LS and CALIC use (without their bias correction).

Sizes are projected to the whole split as ``ratio x pixels of the split``.
"""

from __future__ import annotations

import argparse
import io
import lzma
import time
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmgsacp.datasets.packed import WEBP_LOSSLESS
from mmgsacp.utils.io import write_json

#: Upper edges of the activity classes of :func:`measure_entropy`.
ACTIVITY_EDGES = (0, 1, 2, 3, 5, 7, 10, 14, 20, 28, 40, 60, 90, 140)


def med_residuals(img: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Residuals of the median edge detector and the local activity of each pixel.

    Pixels outside the image are replaced by their neighbour inside it (the left column
    predicts from above, the top row from the left), so every pixel has a prediction.

    Args:
        img (np.ndarray): (H, W) uint8 image.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W) int16 residuals ``img - prediction`` in
        [-255, 255], and (H, W) int32 activity ``|a - c| + |b - c| + |b - d|`` (a left,
        b above, c above-left, d above-right).
    """
    if img.ndim != 2:
        raise ValueError(f'med_residuals needs an (H, W) image, got shape {img.shape}')
    x = img.astype(np.int32)
    a, b, c, d = (np.zeros_like(x) for _ in range(4))
    a[:, 1:], b[1:, :], c[1:, 1:], d[1:, :-1] = x[:, :-1], x[:-1, :], x[:-1, :-1], x[:-1, 1:]
    b[0, 1:] = x[0, :-1]  # top row: 'above' is taken as the left neighbour
    c[0, 1:] = x[0, :-1]
    d[0, :] = b[0, :]
    a[:, 0], c[:, 0], d[:, -1] = b[:, 0], b[:, 0], b[:, -1]
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    pred = np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))
    activity = np.abs(a - c) + np.abs(b - c) + np.abs(b - d)
    return (x - pred).astype(np.int16), activity


def entropy_bits(values: np.ndarray, contexts: Optional[np.ndarray] = None) -> float:
    """Empirical entropy in bits per value, conditioned on ``contexts`` when given.

    Args:
        values (np.ndarray): Integer symbols, any shape.
        contexts (np.ndarray, optional): Integer context of each symbol, same shape; one
            symbol table per context value.

    Returns:
        float: Bits per symbol of an ideal coder with those tables (the tables' own cost
        not counted).
    """
    values = np.asarray(values).ravel().astype(np.int64)
    if values.size == 0:
        return 0.0
    ctx = np.zeros_like(values) if contexts is None else np.asarray(contexts).ravel()
    if ctx.shape != values.shape:
        raise ValueError(f'contexts of shape {ctx.shape} for {values.shape} values')
    span = int(values.max() - values.min()) + 1
    ctx = ctx.astype(np.int64) - ctx.min()
    joint = ctx * span + (values - values.min())
    counts = np.bincount(joint, minlength=(int(ctx.max()) + 1) * span).astype(np.float64)
    counts = counts.reshape(-1, span)
    per_ctx = counts.sum(1)
    with np.errstate(divide='ignore', invalid='ignore'):
        p = np.where(counts > 0, counts / per_ctx[:, None], 1.0)
    return float(-(counts * np.log2(p)).sum() / values.size)


def _residual_bytes(images: Sequence[np.ndarray]) -> bytes:
    return b''.join((med_residuals(im)[0] & 255).astype(np.uint8).tobytes() for im in images)


def _per_image(encode: Callable, decode: Callable) -> Tuple[Callable, Callable]:
    def enc(images):
        return [encode(im) for im in images]

    def dec(bufs):
        return [decode(b) for b in bufs]

    return enc, dec


def _pil_codec(fmt: str, **params) -> Tuple[Callable, Callable]:
    from PIL import Image

    def encode(im):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format=fmt, **params)
        return buf.getvalue()

    def decode(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert('L'))

    return _per_image(encode, decode)


def _cv2_codec(ext: str, params: List[int]) -> Tuple[Callable, Callable]:
    import cv2

    return _per_image(
        lambda im: cv2.imencode(ext, im, params)[1].tobytes(),
        lambda data: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE),
    )


def _stream_codec(compress: Callable, decompress: Callable, residuals: bool):
    """A codec over all images at once; exactness is checked on the bytes it compresses."""

    def enc(images):
        data = _residual_bytes(images) if residuals else b''.join(im.tobytes() for im in images)
        return [compress(data), data]

    def dec(bufs):
        return decompress(bufs[0]) == bufs[1]

    return enc, dec


def codecs() -> Dict[str, Tuple[Callable, Callable]]:
    """name -> (encode(images) -> list of bytes, decode(list of bytes) -> images or bool)."""
    import cv2

    return {
        'deflate (np.savez_compressed)': _stream_codec(
            lambda b: zlib.compress(b, 6), zlib.decompress, False
        ),
        'deflate on MED residuals': _stream_codec(
            lambda b: zlib.compress(b, 6), zlib.decompress, True
        ),
        'LZMA on MED residuals': _stream_codec(
            lambda b: lzma.compress(b, preset=6), lzma.decompress, True
        ),
        'PNG (level 9)': _cv2_codec('.png', [cv2.IMWRITE_PNG_COMPRESSION, 9]),
        'WebP lossless': _cv2_codec('.webp', WEBP_LOSSLESS),  # as packed splits store images
        'JPEG 2000 reversible': _pil_codec('JPEG2000', irreversible=False),
    }


def measure_codecs(
    images: Sequence[np.ndarray], names: Optional[Sequence[str]] = None
) -> Dict[str, Dict[str, float]]:
    """Size and speed of each lossless codec on ``images``.

    Args:
        images (Sequence[np.ndarray]): (H, W) uint8 images.
        names (Sequence[str], optional): Codecs of :func:`codecs` to run (default all).

    Returns:
        dict: codec -> ``bytes`` (compressed), ``ratio`` (bytes / pixels), ``exact`` (the
        decoded pixels equal the input), ``encode_s``, ``decode_s``.
    """
    table = codecs()
    pixels = sum(im.size for im in images)
    out = {}
    for name in names or list(table):
        if name not in table:
            raise ValueError(f'unknown codec {name!r}; choose from {sorted(table)}')
        encode, decode = table[name]
        start = time.perf_counter()
        bufs = encode(images)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        decoded = decode(bufs)
        decode_s = time.perf_counter() - start
        if isinstance(decoded, bool):
            exact, size = decoded, len(bufs[0])
        else:
            exact = all(np.array_equal(d, im) for d, im in zip(decoded, images))
            size = sum(len(b) for b in bufs)
        out[name] = dict(
            bytes=size,
            ratio=size / pixels,
            exact=bool(exact),
            encode_s=encode_s,
            decode_s=decode_s,
        )
    return out


def measure_entropy(images: Sequence[np.ndarray]) -> Dict[str, float]:
    """Bits per pixel of ideal coders of the MED residuals (order 0; with activity context)."""
    res, act = zip(*(med_residuals(im) for im in images))
    res = np.concatenate([r.ravel() for r in res])
    ctx = np.digitize(np.concatenate([a.ravel() for a in act]), ACTIVITY_EDGES)
    return {
        'MED residuals, order 0': entropy_bits(res),
        'MED residuals, activity context': entropy_bits(res, ctx),
    }


def load_split_sample(
    data_root: str, ann_file: str, every: int
) -> Tuple[List[np.ndarray], int, int]:
    """Every ``every``-th image of a split, decoded as the packed split decodes it.

    Returns:
        tuple: (images, pixels of the whole split, images in the split). The whole split's
        pixel count is read from the image headers only.
    """
    from PIL import Image

    from mmgsacp.datasets.point_sirst import PointSIRSTDataset
    from mmgsacp.datasets.transforms import LoadIRImageFromFile

    dataset = PointSIRSTDataset(
        data_root=data_root,
        ann_file=ann_file,
        point_type=None,
        pipeline=[LoadIRImageFromFile()],
        serialize_data=False,
    )
    total = 0
    for info in dataset.data_list:
        with Image.open(info['img_path']) as im:
            total += im.size[0] * im.size[1]
    images = [dataset[i]['img'][..., 0].astype(np.uint8) for i in range(0, len(dataset), every)]
    return images, total, len(dataset)


def run_command(args: argparse.Namespace) -> int:
    """CLI body of ``tools/benchmarks/bench_pack_size.py``."""
    images, total, count = load_split_sample(args.data_root, args.split, args.every)
    pixels = sum(im.size for im in images)
    print(
        f'{len(images)} of {count} images ({pixels / 1e6:.1f} M of {total / 1e6:.1f} M pixels); '
        f'raw: {total / 2**20:.1f} MiB'
    )
    rows = []
    print('| coder | bits/pixel | ratio | whole split, MiB | exact | encode s | decode s |')
    print('|---|---|---|---|---|---|---|')
    for name, bits in measure_entropy(images).items():
        rows.append(dict(coder=f'entropy: {name}', bits_per_pixel=bits))
        print(
            f'| entropy: {name} | {bits:.3f} | {bits / 8:.3f} | {bits / 8 * total / 2**20:.1f} |'
            ' | | |'
        )
    for name, r in measure_codecs(images, args.codecs).items():
        rows.append(dict(coder=name, bits_per_pixel=8 * r['ratio'], **r))
        mib = r['ratio'] * total / 2**20
        print(
            f'| {name} | {8 * r["ratio"]:.3f} | {r["ratio"]:.3f} | {mib:.1f} '
            f'| {"yes" if r["exact"] else "NO"} | {r["encode_s"]:.1f} | {r["decode_s"]:.2f} |',
            flush=True,
        )
    if args.json:
        summary = dict(
            sampled_images=len(images), images=count, sampled_pixels=pixels, pixels=total
        )
        write_json(dict(summary, rows=rows), args.json)
    return 0
