"""A dataset split packed into one compressed ``.npz`` file, and the dataset that reads it.

Decoding a PNG per sample per step costs more than the augmentations that follow it; on an
accelerator the per-sample pipeline starves the device. A packed split decodes every image,
mask and point label of a split once, with the loaders of the ordinary pipeline
(:class:`PointSIRSTDataset`, :class:`LoadIRImageFromFile`, :class:`LoadIRAnnotations`), so
the packed arrays are exactly what that pipeline reads. Training then keeps the whole split in
memory and crops, flips and normalises whole batches at once
(:class:`mmgsacp.models.data_preprocessors.PackedPointDataPreProcessor`).

File layout (format :data:`PACK_FORMAT_VERSION`; ``N`` images, ``P`` pixels in all, ``K``
points in all; :func:`load_packed_split` returns ``images`` and ``masks`` decoded, as uint8
(P,) arrays: every image row-major one after the other, masks on the same offsets):

=================  ===============  ========================================================
key                dtype, shape     content
=================  ===============  ========================================================
``version``        int64 ()         :data:`PACK_FORMAT_VERSION`
``images``         uint8 (B,)       each image as a lossless WebP stream, one after the
                                    other
``image_bytes``    int64 (N,)       length of each image's stream
``masks``          uint8 (P / 8,)   full masks, 0 background / 1 target under the dataset's
                                    ``mask_scale`` rule, one bit a pixel (``np.packbits``);
                                    (0,) without masks
``index``          int64 (N, 3)     (offset, H, W) of each image in the decoded ``images`` /
                                    ``masks``
``points``         float32 (K, 3)   (image_index, x, y), each image's points in split order
``names``          str (N,)         file stems
``parts``          str (N,)         part of each stem ('' when unknown)
``img_paths``      str (N,)         the image files that were packed
``source``         str (4,)         data_root (resolved), split file, point_type,
                                    mask_scale
=================  ===============  ========================================================

Why WebP: the images must be stored losslessly (the fast path crops the very pixels of the
per-sample pipeline), and of the lossless coders measured on SIRST3's training split
(``tools/benchmarks/bench_pack_size.py``) lossless WebP is the smallest and among the fastest to
decode: 2.07 bits a pixel against 3.58 for deflate on the raw pixels (format 1) and 2.47 for
PNG. Its predictors and entropy coder are close to what a context-modelling coder of the
JPEG-LS kind could reach on these noisy frames (about 2.0 bits a pixel).
"""

from __future__ import annotations

import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from ..utils.fileio import default_mode
from ..utils.io import InputError

#: Version written by :func:`pack_split`; readers refuse any other.
PACK_FORMAT_VERSION = 2
#: The command that writes a packed split (named in errors).
PACK_COMMAND = 'python tools/dataset_converters/pack_split.py'
#: Keys of the small arrays a dataset reads (no pixels).
INDEX_KEYS = ('version', 'index', 'points', 'names', 'parts', 'img_paths', 'source')
#: Every key a reader asks for (``images`` and ``masks`` come back decoded).
ALL_KEYS = INDEX_KEYS + ('images', 'masks')
#: OpenCV's encoder parameters of the packed images: a quality above 100 selects lossless WebP.
WEBP_LOSSLESS = [cv2.IMWRITE_WEBP_QUALITY, 101]


class PackedSplitError(InputError, ValueError):
    """A packed split that is missing, of another format version, or packed from another
    split; the tools report it as one ``error:`` line (exit status 2)."""


def pack_command(
    data_root: str = 'DATA_ROOT',
    split: str = 'SPLIT',
    point_type: str = 'centroid',
    out: str = 'OUT.npz',
) -> str:
    """The command line that (re)writes a packed split."""
    return f'{PACK_COMMAND} {data_root} --split {split} --point-type {point_type} --out {out}'


def _rewrite_hint(path: str, source: Optional[Sequence[str]] = None) -> str:
    if source is not None and len(source) == 4:
        return pack_command(source[0], source[1], source[2], path)
    return pack_command(out=path)


def load_packed_split(path: str, keys: Sequence[str] = ALL_KEYS) -> Dict[str, np.ndarray]:
    """Read (some arrays of) a packed split, checking its format version.

    Args:
        path (str): The ``.npz`` file.
        keys (Sequence[str]): Arrays to read; ``np.load`` decompresses only these.

    Returns:
        dict[str, np.ndarray]: ``keys`` -> arrays (see the module docstring); ``images`` and
        ``masks`` decoded to uint8 (P,) pixels.

    Raises:
        PackedSplitError: The file is missing, unreadable, of another version or lacks a key;
            the message names the file and the command that writes it.
    """
    if not osp.isfile(path):
        raise PackedSplitError(
            f'packed split {path} does not exist; write it with: {_rewrite_hint(path)}'
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            source = data['source'].tolist() if 'source' in data.files else None
            version = int(data['version']) if 'version' in data.files else None
            if version != PACK_FORMAT_VERSION:
                raise PackedSplitError(
                    f'packed split {path} has format version {version}, this mmgsacp reads '
                    f'version {PACK_FORMAT_VERSION}; rewrite it with: '
                    f'{_rewrite_hint(path, source)}'
                )
            stored = set(keys) | ({'index', 'image_bytes'} if 'images' in keys else set())
            stored |= {'index'} if 'masks' in keys else set()
            missing = sorted(k for k in stored if k not in data.files)
            if missing:
                raise PackedSplitError(
                    f'packed split {path} lacks {missing}; rewrite it with: '
                    f'{_rewrite_hint(path, source)}'
                )
            arrays = {k: data[k] for k in stored}
    except (OSError, ValueError) as err:
        if isinstance(err, PackedSplitError):
            raise
        raise PackedSplitError(
            f'cannot read packed split {path} ({err}); rewrite it with: {_rewrite_hint(path)}'
        ) from err
    if 'images' in keys or 'masks' in keys:
        index = arrays['index']
        pixels = int((index[:, 1] * index[:, 2]).sum())
    if 'images' in keys:
        arrays['images'] = _decode_images(
            path, arrays['images'], arrays['image_bytes'], index, pixels
        )
    if 'masks' in keys and arrays['masks'].size:
        arrays['masks'] = np.unpackbits(arrays['masks'], count=pixels)
    return {k: arrays[k] for k in keys}


def _decode_images(
    path: str, streams: np.ndarray, lengths: np.ndarray, index: np.ndarray, num_pixels: int
) -> np.ndarray:
    """The (P,) uint8 pixels of every image, decoded from their WebP streams."""
    pixels = np.empty(num_pixels, np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i, (off, h, w) in enumerate(index):
        img = cv2.imdecode(streams[starts[i] : starts[i + 1]], cv2.IMREAD_GRAYSCALE)
        if img is None or img.shape != (h, w):
            raise PackedSplitError(
                f'packed split {path}: image {i} does not decode to {h}x{w} pixels; rewrite '
                f'it with: {_rewrite_hint(path)}'
            )
        pixels[off : off + h * w] = img.ravel()
    return pixels


def pack_split(
    data_root: str,
    ann_file: str,
    out: str,
    point_type: str = 'centroid',
    mask_scale: str = '255',
    with_masks: bool = True,
    **dataset_kwargs,
) -> Dict[str, object]:
    """Decode one split of a SIRST3-layout dataset and write it as a packed ``.npz``.

    Images, masks and points are read by :class:`PointSIRSTDataset` and the ordinary loading
    transforms, so they follow the same rules (8-bit grey conversion, mask value rule, point
    maps rescaled into the image frame when their size differs). The file is written to a
    temporary name in ``out``'s folder, synced, and renamed over ``out``: an interrupted run
    never leaves a half-written file in its place.

    Args:
        data_root (str): Dataset folder.
        ann_file (str): Split list relative to ``data_root``, e.g. ``'img_idx/train_SIRST3.txt'``.
        out (str): The ``.npz`` to write.
        point_type (str): ``'centroid'``, ``'coarse'`` or ``'mask'`` (see
            :class:`PointSIRSTDataset`).
        mask_scale (str): See :mod:`mmgsacp.datasets.masks`.
        with_masks (bool): Pack the full masks (for the drift monitor and full supervision).
        **dataset_kwargs: Further :class:`PointSIRSTDataset` arguments (``data_prefix``,
            ``point_dirs``, ``point_size_mismatch``, ...).

    Returns:
        dict: ``out``, ``num_images``, ``num_points``, ``num_pixels``, ``bytes`` (file size).

    Raises:
        ValueError: An image that is not 8-bit (packed splits hold uint8 pixels); names it.
    """
    from .point_sirst import PointSIRSTDataset
    from .transforms import LoadIRAnnotations, LoadIRImageFromFile

    if point_type is None:
        raise ValueError('point_type must name the point labels to pack, got None')
    if not with_masks:
        dataset_kwargs.setdefault('data_prefix', dict(img_path='images', seg_map_path=None))
    dataset = PointSIRSTDataset(
        data_root=data_root,
        ann_file=ann_file,
        point_type=point_type,
        mask_scale=mask_scale,
        pipeline=[LoadIRImageFromFile(), LoadIRAnnotations(with_mask=with_masks)],
        serialize_data=False,
        **dataset_kwargs,
    )
    images: List[np.ndarray] = []
    masks: List[np.ndarray] = []
    index, points = [], []
    names, parts, img_paths = [], [], []
    offset = 0
    for i in range(len(dataset)):
        sample = dataset[i]
        img = sample['img'][..., 0]
        pixels = img.astype(np.uint8)
        if not np.array_equal(pixels, img):
            raise ValueError(
                f'image {sample["img_path"]} is not 8-bit; packed splits hold '
                'uint8 pixels, train on it with the ordinary pipeline'
            )
        h, w = pixels.shape
        images.append(_encode_image(pixels, sample['img_path']))
        if with_masks and 'gt_seg_map' in sample:
            mask = sample['gt_seg_map']
            if mask.size and (mask.min() < 0 or mask.max() > 1):
                raise ValueError(
                    f'mask of sample {sample["stem"]} holds values other than 0 and 1 after '
                    f'the mask_scale rule {mask_scale!r}; packed masks are 0/1'
                )
            masks.append(mask.astype(np.uint8).ravel())
        elif with_masks:
            raise ValueError(
                f'sample {sample["stem"]} has no mask; pass with_masks=False '
                '(--no-masks) to pack a split without masks'
            )
        pts = np.asarray(sample['gt_points'], np.float32).reshape(-1, 2)
        points.append(np.concatenate([np.full((len(pts), 1), i, np.float32), pts], axis=1))
        index.append((offset, h, w))
        offset += h * w
        names.append(sample['stem'])
        parts.append(sample.get('part') or '')
        img_paths.append(sample['img_path'])
    arrays = dict(
        version=np.int64(PACK_FORMAT_VERSION),
        images=np.concatenate(images),
        image_bytes=np.asarray([len(b) for b in images], np.int64),
        masks=np.packbits(np.concatenate(masks)) if masks else np.zeros(0, np.uint8),
        index=np.asarray(index, np.int64).reshape(-1, 3),
        points=np.concatenate(points).astype(np.float32).reshape(-1, 3),
        names=np.asarray(names, dtype=str),
        parts=np.asarray(parts, dtype=str),
        img_paths=np.asarray(img_paths, dtype=str),
        source=np.asarray(
            [osp.realpath(data_root), str(ann_file), str(point_type), str(mask_scale)]
        ),
    )
    _write_npz_atomic(out, arrays)
    return dict(
        out=out,
        num_images=len(names),
        num_points=len(arrays['points']),
        num_pixels=offset,
        bytes=osp.getsize(out),
    )


def _encode_image(pixels: np.ndarray, img_path: str) -> np.ndarray:
    """One (H, W) uint8 image as a lossless WebP stream, checked by decoding it back."""
    ok, stream = cv2.imencode('.webp', pixels, WEBP_LOSSLESS)
    back = cv2.imdecode(stream, cv2.IMREAD_GRAYSCALE) if ok else None
    if back is None or not np.array_equal(back, pixels):
        raise ValueError(f'image {img_path} does not survive lossless WebP coding; cannot pack it')
    return stream.ravel()


def _write_npz_atomic(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` through a temporary file in the same folder, fsync and rename."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix='.npz', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), default_mode())
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


@DATASETS.register_module()
class PackedPointDataset(BaseDataset):
    """A packed split (:func:`pack_split`) whose samples are indices into it.

    Only the small arrays of the file (names, shapes, points) are read here; the pixels are
    read once by the data preprocessor that crops them
    (:class:`~mmgsacp.models.data_preprocessors.PackedPointDataPreProcessor`), which finds the
    file through each sample's ``pack_file`` metainfo. The pipeline is normally
    ``[dict(type='PackSampleIndex')]``.

    ``data_root``, ``ann_file`` and ``point_type`` say which split the file must hold: they
    are checked against what the file was packed from, so a config switched to other data
    (or other point labels) refuses a stale file instead of training on it, and the error
    gives the exact command that writes the right one.

    Args:
        pack_file (str): The ``.npz`` (relative to the working directory, as ``work_dir``).
        data_root (str, optional): Dataset folder the split was packed from.
        ann_file (str): Split list relative to ``data_root``.
        point_type (str, optional): Point labels the file must hold; None accepts any.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``indices``, ...).

    Each data info holds ``pack_idx`` (row of the packed split; ``sample_idx``, set by
    MMEngine, counts rows of this dataset, which differ when ``indices`` subsets it), ``stem``,
    ``part`` (None when unknown), ``img_path`` (the file that was packed), ``ori_shape``
    (H, W), ``num_points`` and ``pack_file`` (absolute path).

    Raises:
        PackedSplitError: The file is missing, of another format version, or packed from
            another split; the message names it and the command that writes it.
    """

    METAINFO = dict(classes=('background', 'target'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(
        self,
        pack_file: str,
        data_root: Optional[str] = None,
        ann_file: str = '',
        point_type: Optional[str] = None,
        **kwargs,
    ) -> None:
        self.pack_file = osp.abspath(pack_file)
        self.split_root, self.split_file, self.point_type = data_root, ann_file, point_type
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def _command(self) -> str:
        return pack_command(
            self.split_root or 'DATA_ROOT',
            self.split_file or 'SPLIT',
            self.point_type or 'centroid',
            self.pack_file,
        )

    def _check_source(self, source: List[str]) -> None:
        packed_root, packed_split, packed_points = source[:3]
        wanted = []
        if self.split_root is not None and osp.realpath(self.split_root) != osp.realpath(
            packed_root
        ):
            wanted.append(f'data_root {self.split_root} (file: {packed_root})')
        if self.split_file and osp.normpath(self.split_file) != osp.normpath(packed_split):
            wanted.append(f'ann_file {self.split_file} (file: {packed_split})')
        if self.point_type is not None and self.point_type != packed_points:
            wanted.append(f'point_type {self.point_type} (file: {packed_points})')
        if wanted:
            raise PackedSplitError(
                f'packed split {self.pack_file} was packed from another split: the config '
                f'names {", ".join(wanted)}; rewrite it with: {self._command()}'
            )

    def load_data_list(self) -> List[dict]:
        """One data info per packed image, in split order."""
        if not osp.isfile(self.pack_file):
            raise PackedSplitError(
                f'packed split {self.pack_file} does not exist; write it with: {self._command()}'
            )
        arrays = load_packed_split(self.pack_file, INDEX_KEYS)
        source = arrays['source'].tolist()
        self._check_source(source)
        counts = np.bincount(
            arrays['points'][:, 0].astype(np.int64), minlength=len(arrays['names'])
        )
        data_list = [
            dict(
                pack_idx=i,
                stem=str(stem),
                part=str(part) or None,
                img_path=str(path),
                ori_shape=(int(h), int(w)),
                num_points=int(n),
                pack_file=self.pack_file,
            )
            for i, (stem, part, path, (_, h, w), n) in enumerate(
                zip(arrays['names'], arrays['parts'], arrays['img_paths'], arrays['index'], counts)
            )
        ]
        print_log(
            f'{self.__class__.__name__} {self.pack_file}: {len(data_list)} images, '
            f'{int(counts.sum())} {source[2]} points (packed from {source[0]} '
            f'{source[1]})',
            logger='current',
        )
        return data_list
