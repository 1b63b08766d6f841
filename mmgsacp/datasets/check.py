"""Decode and cross-check every file of a SIRST3-layout dataset, reporting all problems at once.

A corrupt PNG, a mask saved as 0/1 or a point map in the wrong frame otherwise shows up hours
into a run (when the loader reaches it) or never (when it silently reads as an image without
targets). :func:`check_dataset` reads a whole set the way :class:`PointSIRSTDataset` does and
returns every problem, one per file, so they can all be fixed in one pass.

Problems (``Problem.kind``):

* ``missing``: a listed image, mask or point map does not exist;
* ``undecodable``: a file that does not decode (truncated, not an image) or has a pixel type
  or channel count the loaders refuse;
* ``size-mismatch``: a mask whose size differs from its image's; a point map whose size
  differs, when ``point_size_mismatch='error'``;
* ``mask-values``: a mask or point map that the value rule of :mod:`mmgsacp.datasets.masks`
  refuses (only 0 and 1 under ``mask_scale='255'``, nothing above 127, ...);
* ``point-outside``: a lit point of a point map that lies outside its image's frame (only a
  point map of another size can hold one; rescaling it would be a guess);
* ``point-off-target``: a point (after rescaling, as the dataset reads it) on no target pixel
  of its mask and outside every target's bounding box (a centroid may fall off a curved
  target, but stays inside its box);
* ``duplicate-stem``: a stem listed more than once in a split;
* ``empty-split``: a split that lists no stem;
* ``train-test-overlap``: a stem listed both in a ``train*`` split and a ``test*`` split.

Notes, which do not make a set fail: point maps of another size that the dataset rescales
(``point_size_mismatch='rescale'``), and masks holding grey values besides 0 and the maximum
(read as target where > 127, like the official IRSTD-1K masks).
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmgsacp.utils.io import InputError

from .masks import DATASET_HINT, MaskValueError, binarize_mask, check_mask_scale, decode_mask
from .point_sirst import DEFAULT_POINT_DIRS
from .points import points_from_map, rescale_points

#: Problem kinds that concern label quality rather than readable files: a dataset built with
#: ``check_files=True`` warns about them instead of refusing to start.
LABEL_KINDS = frozenset({'point-off-target'})
#: Split files looked for when none are named.
SPLIT_DIR = 'img_idx'


@dataclass(frozen=True)
class SampleFiles:
    """The files of one sample.

    Attributes:
        stem: File stem shared by the sample's files.
        img_path: The image.
        seg_map_path: The full mask, or None for a set without masks.
        point_paths: Point type (e.g. ``'centroid'``) -> point map file.
    """

    stem: str
    img_path: str
    seg_map_path: Optional[str] = None
    point_paths: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """One problem with one file: its kind (see the module docstring), the file, and what is
    wrong with it."""

    kind: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f'{self.kind}: {self.path}: {self.detail}'


@dataclass
class CheckResult:
    """What :func:`check_samples` found.

    Attributes:
        samples: Number of samples checked.
        problems: Every problem, in sample order.
        notes: Facts worth knowing that do not make the set fail.
        grey_masks: Masks holding grey values besides 0 and their maximum.
        stem_problems: Stem -> number of its problems.
    """

    samples: int = 0
    problems: List[Problem] = field(default_factory=list)
    notes: List[Problem] = field(default_factory=list)
    grey_masks: List[str] = field(default_factory=list)
    stem_problems: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found (notes do not count)."""
        return not self.problems


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, 'rb') as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _check_image(path: str, problems: List[Problem]) -> Optional[Tuple[int, int]]:
    """(H, W) of a decodable image, else None with the problem recorded."""
    data = _read(path)
    if data is None:
        problems.append(Problem('missing', path, 'image does not exist'))
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        problems.append(
            Problem('undecodable', path, 'image does not decode (truncated or not an image file)')
        )
        return None
    if img.dtype not in (np.uint8, np.uint16):
        problems.append(
            Problem(
                'undecodable',
                path,
                f'image has pixel type {img.dtype}; the loader reads 8 or 16 bit',
            )
        )
        return None
    if img.ndim == 3 and img.shape[2] not in (1, 2, 3, 4):
        problems.append(
            Problem(
                'undecodable', path, f'image has {img.shape[2]} channels; the loader reads 1 to 4'
            )
        )
        return None
    return img.shape[:2]


def _read_binary(
    path: str, what: str, mask_scale: str, hint: str, problems: List[Problem]
) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(grey values, target map) of a mask or point map; (None, None) with the problem
    recorded when missing or undecodable, (values, None) when its values are refused."""
    data = _read(path)
    if data is None:
        problems.append(Problem('missing', path, f'{what} does not exist'))
        return None, None
    try:
        values = decode_mask(data, path, what)
    except (OSError, ValueError) as err:
        problems.append(Problem('undecodable', path, str(err).replace(f' {path}', '')))
        return None, None
    try:
        return values, binarize_mask(values, path, mask_scale, what, hint)
    except MaskValueError as err:
        problems.append(Problem('mask-values', path, str(err).replace(f' {path}', '')))
        return values, None


def _has_grey(values: np.ndarray) -> bool:
    top = values.max() if values.size else 0
    return bool(top > 1 and ((values > 0) & (values < top)).any())


def _off_target(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(K,) bool: points on no target pixel and outside every target's bounding box."""
    xs, ys = points[:, 0].astype(np.int64), points[:, 1].astype(np.int64)
    off = ~target[ys, xs]
    if off.any():
        num, _, stats, _ = cv2.connectedComponentsWithStats(
            target.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        x0, y0 = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
        x1 = x0 + stats[1:, cv2.CC_STAT_WIDTH]
        y1 = y0 + stats[1:, cv2.CC_STAT_HEIGHT]
        in_box = (
            (xs[:, None] >= x0) & (xs[:, None] < x1) & (ys[:, None] >= y0) & (ys[:, None] < y1)
        ).any(axis=1)
        off &= ~in_box
    return off


def check_sample(
    sample: SampleFiles,
    mask_scale: str = '255',
    point_size_mismatch: str = 'rescale',
    hint: str = DATASET_HINT,
) -> CheckResult:
    """Decode and cross-check the files of one sample.

    Args:
        sample (SampleFiles): The sample's files.
        mask_scale (str): Value rule of masks and point maps (see :mod:`..masks`).
        point_size_mismatch (str): ``'rescale'`` (a point map of another size is noted and its
            points rescaled, as the dataset does) or ``'error'`` (it is a problem).
        hint (str): How the user selects another ``mask_scale``, quoted in problems.

    Returns:
        CheckResult: The sample's problems and notes.
    """
    problems: List[Problem] = []
    result = CheckResult(samples=1, problems=problems)
    img_shape = _check_image(sample.img_path, problems)
    target = None
    if sample.seg_map_path is not None:
        values, target = _read_binary(sample.seg_map_path, 'mask', mask_scale, hint, problems)
        if values is not None and _has_grey(values):
            result.grey_masks.append(sample.seg_map_path)
        if values is not None and img_shape is not None and values.shape != img_shape:
            problems.append(
                Problem(
                    'size-mismatch',
                    sample.seg_map_path,
                    f'mask is {values.shape[1]}x{values.shape[0]} (WxH) but its image '
                    f'{sample.img_path} is {img_shape[1]}x{img_shape[0]}',
                )
            )
            target = None
    for point_type, path in sample.point_paths.items():
        what = f'{point_type} point map'
        _, lit = _read_binary(path, what, mask_scale, hint, problems)
        if lit is None or img_shape is None:
            continue
        points = points_from_map(lit)
        (h, w), (ph, pw) = img_shape, lit.shape
        outside = (points[:, 0] >= w) | (points[:, 1] >= h)
        if (ph, pw) != (h, w):
            for x, y in points[outside]:
                problems.append(
                    Problem(
                        'point-outside',
                        path,
                        f'point (x={x:g}, y={y:g}) lies outside its image {sample.img_path} '
                        f'({w}x{h} WxH); the {pw}x{ph} map is in another frame',
                    )
                )
            msg = f'{what} is {pw}x{ph} (WxH) but its image {sample.img_path} is {w}x{h}'
            if point_size_mismatch == 'error':
                problems.append(Problem('size-mismatch', path, msg))
                continue
            result.notes.append(
                Problem(
                    'point-map-rescaled',
                    path,
                    f'{msg}; its points are rescaled into the image frame',
                )
            )
            points = rescale_points(points, (ph, pw), (h, w))
        # A point already reported outside the frame is not reported again after rescaling.
        points = points[~outside]
        if target is not None and len(points):
            for x, y in points[_off_target(points, target)]:
                problems.append(
                    Problem(
                        'point-off-target',
                        path,
                        f'point (x={x:g}, y={y:g}) is on no target of {sample.seg_map_path} '
                        "(nor inside any target's bounding box)",
                    )
                )
    result.stem_problems[sample.stem] = len(problems)
    return result


def check_samples(
    samples: Sequence[SampleFiles],
    mask_scale: str = '255',
    point_size_mismatch: str = 'rescale',
    hint: str = DATASET_HINT,
    workers: Optional[int] = None,
) -> CheckResult:
    """Check many samples, decoding in a thread pool (OpenCV decodes outside the GIL).

    Args:
        samples (Sequence[SampleFiles]): The samples.
        mask_scale (str): See :func:`check_sample`.
        point_size_mismatch (str): See :func:`check_sample`.
        hint (str): See :func:`check_sample`.
        workers (int, optional): Threads; defaults to the CPU count, at most 8.

    Returns:
        CheckResult: Every problem and note, in sample order.
    """
    check_mask_scale(mask_scale)
    if point_size_mismatch not in ('rescale', 'error'):
        raise ValueError(
            f"point_size_mismatch must be 'rescale' or 'error', got {point_size_mismatch!r}"
        )
    workers = workers or min(8, os.cpu_count() or 1)

    def one(sample: SampleFiles) -> CheckResult:
        return check_sample(sample, mask_scale, point_size_mismatch, hint)

    if workers > 1 and len(samples) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(one, samples))
    else:
        parts = [one(s) for s in samples]
    total = CheckResult(samples=len(samples))
    for part in parts:
        total.problems += part.problems
        total.notes += part.notes
        total.grey_masks += part.grey_masks
        total.stem_problems.update(part.stem_problems)
    return total


@dataclass
class SplitSummary:
    """One split of a checked set: its file, how many stems it lists, and how many problems
    its samples and the split file itself have."""

    path: str
    images: int
    problems: int


@dataclass
class DataCheckReport:
    """What :func:`check_dataset` found.

    Attributes:
        data_root: The set's folder.
        splits: One summary per split, in the order checked.
        result: The problems and notes of every distinct sample, plus the split files' own
            problems (duplicate stems, empty splits, train/test overlap) first.
    """

    data_root: str
    splits: List[SplitSummary]
    result: CheckResult

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.result.ok

    def lines(self) -> List[str]:
        """One line per problem, then one per note."""
        return [str(p) for p in self.result.problems] + [f'note: {p}' for p in self.result.notes]

    def summary(self) -> List[str]:
        """Per-split counts, grey masks, and the verdict."""
        out = [f'{s.path}: {s.images} images, {s.problems} problems' for s in self.splits]
        grey = self.result.grey_masks
        if grey:
            shown = ', '.join(osp.basename(p) for p in grey[:3])
            more = ', ...' if len(grey) > 3 else ''
            out.append(
                f'{len(grey)} masks hold grey values besides 0 and their maximum '
                f'({shown}{more}); pixels > 127 are target'
            )
        n, kinds = len(self.result.problems), {}
        for p in self.result.problems:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        by_kind = ', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))
        verdict = 'OK' if n == 0 else f'{n} problems ({by_kind})'
        out.append(
            f'{self.data_root}: {self.result.samples} distinct samples in '
            f'{len(self.splits)} splits, {len(self.result.notes)} notes: {verdict}'
        )
        return out


def _read_split(path: str) -> Tuple[List[str], List[Problem]]:
    """Stems of a split file in order (first occurrence), and its own problems."""
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    seen: Dict[str, List[int]] = {}
    for num, stem in enumerate(lines, 1):
        if stem:
            seen.setdefault(stem, []).append(num)
    problems = [
        Problem(
            'duplicate-stem',
            path,
            f'{stem!r} is listed {len(nums)} times (lines {", ".join(map(str, nums))})',
        )
        for stem, nums in seen.items()
        if len(nums) > 1
    ]
    if not seen:
        problems.append(Problem('empty-split', path, 'the split lists no image'))
    return list(seen), problems


def _overlap(splits: Mapping[str, Sequence[str]]) -> List[Problem]:
    """A stem in a train split and a test split would score the model on its training data."""

    def named(prefix: str) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for path, stems in splits.items():
            if osp.basename(path).lower().startswith(prefix):
                for stem in stems:
                    out.setdefault(stem, path)
        return out

    train, test = named('train'), named('test')
    return [
        Problem('train-test-overlap', test[s], f'{s!r} is also in the training split {train[s]}')
        for s in train
        if s in test
    ]


def find_splits(data_root: str) -> List[str]:
    """Every ``*.txt`` of ``data_root/img_idx`` (sorted); empty when there is none."""
    folder = osp.join(data_root, SPLIT_DIR)
    if not osp.isdir(folder):
        return []
    return [osp.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith('.txt')]


def check_dataset(
    data_root: str,
    splits: Optional[Sequence[str]] = None,
    img_dir: str = 'images',
    mask_dir: Optional[str] = 'masks',
    point_dirs: Optional[Mapping[str, str]] = None,
    img_suffix: str = '.png',
    seg_map_suffix: str = '.png',
    mask_scale: str = '255',
    point_size_mismatch: str = 'rescale',
    hint: str = DATASET_HINT,
    workers: Optional[int] = None,
) -> DataCheckReport:
    """Check every split of a SIRST3-layout set (see :class:`PointSIRSTDataset`).

    Each distinct stem is decoded once, however many splits list it.

    Args:
        data_root (str): The set's folder.
        splits (Sequence[str], optional): Split files, relative to ``data_root`` or absolute.
            Defaults to every ``img_idx/*.txt``; with none, every image of ``img_dir``.
        img_dir (str): Image folder, relative to ``data_root``.
        mask_dir (str, optional): Mask folder, relative to ``data_root``; None for a set
            without masks.
        point_dirs (Mapping[str, str], optional): Point type -> point-map folder, relative to
            ``data_root``. None or empty checks no points.
        img_suffix (str): Image file suffix.
        seg_map_suffix (str): Mask and point-map file suffix.
        mask_scale (str): See :func:`check_sample`.
        point_size_mismatch (str): See :func:`check_sample`.
        hint (str): See :func:`check_sample`.
        workers (int, optional): See :func:`check_samples`.

    Returns:
        DataCheckReport: Everything found.

    Raises:
        FileNotFoundError: ``data_root``, a named folder or a named split file does not exist
            (a usage error rather than a problem of the set).
    """
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'data root {data_root} is not a folder')
    folders = {'image folder': img_dir}
    if mask_dir is not None:
        folders['mask folder'] = mask_dir
    for point_type, folder in (point_dirs or {}).items():
        folders[f'{point_type} point-map folder'] = folder
    for what, folder in folders.items():
        if not osp.isdir(osp.join(data_root, folder)):
            raise FileNotFoundError(f'{what} {osp.join(data_root, folder)} does not exist')

    split_paths = [s if osp.isabs(s) else osp.join(data_root, s) for s in splits or []]
    for path in split_paths:
        if not osp.isfile(path):
            raise FileNotFoundError(f'split file {path} does not exist')
    if not split_paths:
        split_paths = find_splits(data_root)
    split_stems: Dict[str, List[str]] = {}
    split_problems: List[Problem] = []
    if split_paths:
        for path in split_paths:
            stems, problems = _read_split(path)
            split_stems[path] = stems
            split_problems += problems
        split_problems += _overlap(split_stems)
    else:
        folder = osp.join(data_root, img_dir)
        split_stems[folder] = sorted(
            n[: -len(img_suffix)] for n in os.listdir(folder) if n.endswith(img_suffix)
        )
        if not split_stems[folder]:
            split_problems.append(
                Problem('empty-split', folder, f'no split file and no *{img_suffix} image')
            )

    order: Dict[str, None] = {}
    for stems in split_stems.values():
        order.update(dict.fromkeys(stems))
    samples = [
        _sample_files(data_root, stem, img_dir, mask_dir, point_dirs, img_suffix, seg_map_suffix)
        for stem in order
    ]
    result = check_samples(samples, mask_scale, point_size_mismatch, hint, workers)
    result.problems[:0] = split_problems
    own = {p: sum(1 for q in split_problems if q.path == p) for p in split_stems}
    summaries = [
        SplitSummary(path, len(stems), own[path] + sum(result.stem_problems[s] for s in stems))
        for path, stems in split_stems.items()
    ]
    return DataCheckReport(data_root=data_root, splits=summaries, result=result)


def _sample_files(
    data_root: str,
    stem: str,
    img_dir: str,
    mask_dir: Optional[str],
    point_dirs: Optional[Mapping[str, str]],
    img_suffix: str,
    seg_map_suffix: str,
) -> SampleFiles:
    return SampleFiles(
        stem=stem,
        img_path=osp.join(data_root, img_dir, stem + img_suffix),
        seg_map_path=None
        if mask_dir is None
        else osp.join(data_root, mask_dir, stem + seg_map_suffix),
        point_paths={
            t: osp.join(data_root, d, stem + seg_map_suffix) for t, d in (point_dirs or {}).items()
        },
    )


def default_point_dirs(data_root: str, candidates: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    """The point types of ``candidates`` (type, folder) whose folder exists under
    ``data_root``."""
    return {t: d for t, d in candidates if osp.isdir(osp.join(data_root, d))}


#: How ``tools/analysis_tools/check_data.py`` tells the user to read 0/1 masks.
CLI_HINT = '--mask-scale 01 (every mask is 0/1) or --mask-scale auto (decided per file)'


def _parse_point_dirs(values: Sequence[str]) -> Dict[str, str]:
    """``['centroid=masks_centroid', ...]`` (``--point-dirs``) -> ``{'centroid': ...}``."""
    out = {}
    for item in values:
        point_type, sep, folder = item.partition('=')
        if not sep or not point_type or not folder:
            raise InputError(f'--point-dirs expects TYPE=FOLDER, got {item!r}')
        out[point_type] = folder
    return out


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/check_data.py``'s work on its parsed arguments.

    Returns:
        int: 0 when the set is clean (notes allowed), 1 when problems were found.
    """
    if args.no_points:
        point_dirs = {}
    elif args.point_dirs is not None:
        point_dirs = _parse_point_dirs(args.point_dirs)
    else:
        point_dirs = default_point_dirs(args.data_root, DEFAULT_POINT_DIRS.items())
    start = time.perf_counter()
    try:
        report = check_dataset(
            args.data_root,
            splits=args.split,
            img_dir=args.img_dir,
            mask_dir=None if args.no_masks else args.mask_dir,
            point_dirs=point_dirs,
            img_suffix=args.suffix,
            seg_map_suffix=args.suffix,
            mask_scale=args.mask_scale,
            point_size_mismatch=args.point_size_mismatch,
            hint=CLI_HINT,
            workers=args.workers,
        )
    except FileNotFoundError as err:  # the data root, a folder or a split file named
        raise InputError(str(err)) from err
    for line in report.lines():
        print(line)
    for line in report.summary():
        print(line)
    print(f'checked in {time.perf_counter() - start:.1f} s')
    return 0 if report.ok else 1
