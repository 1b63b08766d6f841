"""SIRST3-layout dataset with single-point labels."""

from __future__ import annotations

import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Union

import mmengine
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image

from .masks import check_mask_scale, read_mask
from .points import centroid_points, empty_points, points_from_map, rescale_points

DEFAULT_POINT_DIRS = {'centroid': 'masks_centroid', 'coarse': 'masks_coarse'}


@DATASETS.register_module()
class PointSIRSTDataset(BaseSegDataset):
    """Infrared small-target dataset in the SIRST3 layout, with point labels.

    .. code-block:: none

        data_root/
        ├── images/{stem}.png          8-bit grayscale frames
        ├── masks/{stem}.png           full masks, target where value > 127
        ├── masks_centroid/{stem}.png  one lit pixel per target (centroid)
        ├── masks_coarse/{stem}.png    one lit pixel per target (jittered)
        └── img_idx/{split}.txt        one stem a line

    Point maps are read once, here, into ``gt_points``; the pipeline never touches them. A
    point is each 8-connected lit (> 127) component of a point map, at its floored centroid.
    Masks and point maps follow the value rule of :mod:`mmgsacp.datasets.masks`: a file
    holding only 0 and 1, or nothing above 127, is refused naming it (unless ``mask_scale``
    says the set is 0/1), since it would otherwise read as an image without targets.

    Args:
        data_root (str): Dataset folder.
        ann_file (str): Split list relative to ``data_root``, e.g.
            ``'img_idx/train_SIRST3.txt'``. An empty string takes every image of the image
            folder (sorted), e.g. to evaluate a folder that has no split lists.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders relative to
            ``data_root``. ``seg_map_path=None`` for a set without masks.
        point_type (str, optional): ``'centroid'`` or ``'coarse'`` (any key of ``point_dirs``)
            reads that folder's point maps; ``'mask'`` derives centroid points from the masks;
            None gives no points (test-time sets).
        point_dirs (dict, optional): Point-map folder of each point type, relative to
            ``data_root``. Defaults to ``{'centroid': 'masks_centroid', 'coarse':
            'masks_coarse'}``.
        point_size_mismatch (str): What to do with a point map whose size differs from its
            image's: ``'rescale'`` maps the points into the image frame by the size ratio and
            warns naming the file; ``'error'`` raises naming the file.
        part_map (dict | str, optional): stem -> part name, or one part name for every
            sample (e.g. a folder's name when several folders are evaluated together). None
            uses :func:`mmgsacp.datasets.parts.part_of`.
        img_suffix (str): Image file suffix.
        seg_map_suffix (str): Mask and point-map file suffix.
        mask_scale (str): How masks and point maps store target pixels: ``'255'`` (value
            > 127; a file holding only 0 and 1 is an error), ``'01'`` (every file is 0/1),
            or ``'auto'`` (a file whose maximum is 1 is 0/1, any other file > 127). An
            all-zero file is an empty mask in every mode. See :mod:`mmgsacp.datasets.masks`.
        check_files (bool): Decode every image, mask and point map of the split while the
            dataset is built and raise one error listing every broken or inconsistent file
            (:func:`mmgsacp.datasets.check.check_samples`), so a corrupt sample stops a run
            before it starts rather than when the loader reaches it. Points that miss their
            target are only warned about (published point labels have a few). Costs one
            more decode of each file: on SIRST3's 1676 training images it made building the
            dataset about 2.5 times slower.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``pipeline``,
            ``test_mode``, ``lazy_init``, ``indices``, ...).

    Each data info holds ``img_path``, ``seg_map_path`` (None without masks), ``stem``,
    ``part`` (None when unknown), ``gt_points`` (float32 (K, 2) integer-valued (x, y) pixel
    coordinates of the image; (0, 2) when there are none), ``mask_scale`` (read by
    :class:`LoadIRAnnotations`), ``label_map``, ``reduce_zero_label=False`` and
    ``seg_fields=[]``.
    """

    METAINFO = dict(classes=('background', 'target'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(
        self,
        data_root: str,
        ann_file: str,
        data_prefix: dict = dict(img_path='images', seg_map_path='masks'),
        point_type: Optional[str] = 'centroid',
        point_dirs: Optional[Dict[str, str]] = None,
        point_size_mismatch: str = 'rescale',
        part_map: Optional[Union[str, Dict[str, str]]] = None,
        img_suffix: str = '.png',
        seg_map_suffix: str = '.png',
        mask_scale: str = '255',
        check_files: bool = False,
        **kwargs,
    ) -> None:
        self.point_dirs = dict(DEFAULT_POINT_DIRS if point_dirs is None else point_dirs)
        if point_type is not None and point_type != 'mask' and point_type not in self.point_dirs:
            raise ValueError(
                f"point_type must be None, 'mask' or one of "
                f'{sorted(self.point_dirs)}, got {point_type!r}'
            )
        if point_size_mismatch not in ('rescale', 'error'):
            raise ValueError(
                f"point_size_mismatch must be 'rescale' or 'error', got {point_size_mismatch!r}"
            )
        self.mask_scale = check_mask_scale(mask_scale)
        self.check_files = check_files
        self._whole_folder = not ann_file
        self.point_type = point_type
        self.point_size_mismatch = point_size_mismatch
        self.part_map = part_map
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_root=data_root,
            data_prefix=data_prefix,
            reduce_zero_label=False,
            **kwargs,
        )

    def _read_split(self) -> List[str]:
        if self._whole_folder:
            folder = self.data_prefix['img_path']
            if not osp.isdir(folder):
                raise FileNotFoundError(f'image folder {folder} does not exist')
            suffix = self.img_suffix
            stems = sorted(f[: -len(suffix)] for f in os.listdir(folder) if f.endswith(suffix))
            if not stems:
                raise ValueError(f'image folder {folder} holds no *{suffix} image')
            return stems
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'split file {self.ann_file} does not exist')
        stems = [s.strip() for s in mmengine.list_from_file(self.ann_file)]
        stems = [s for s in stems if s]
        if not stems:
            raise ValueError(f'split file {self.ann_file} lists no images')
        return stems

    def _part_of(self, stem: str) -> Optional[str]:
        if isinstance(self.part_map, str):
            return self.part_map
        if self.part_map is not None:
            return self.part_map.get(stem)
        # Imported here so the module stays importable on its own.
        from .parts import part_of

        return part_of(stem)

    def _check_file(self, path: str, stem: str, what: str) -> None:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'split {self.ann_file} lists {stem!r} but its {what} {path} does not exist'
            )

    def _load_points(self, stem: str, img_path: str, seg_map_path: Optional[str]) -> np.ndarray:
        """(K, 2) float32 (x, y) points of one image, in the image's pixel frame."""
        if self.point_type is None:
            return empty_points()
        if self.point_type == 'mask':
            if seg_map_path is None:
                raise ValueError("point_type='mask' needs masks (data_prefix['seg_map_path'])")
            mask = read_mask(seg_map_path, self.mask_scale, 'mask')
            src_path, src_shape = seg_map_path, mask.shape
            points = centroid_points(mask)
        else:
            src_path = osp.join(self._point_dir, stem + self.seg_map_suffix)
            self._check_file(src_path, stem, f'{self.point_type} point map')
            point_map = read_mask(src_path, self.mask_scale, 'point map')
            src_shape = point_map.shape
            points = points_from_map(point_map)
        # Header only: no pixel decode.
        with Image.open(img_path) as im:
            w, h = im.size
        if src_shape != (h, w):
            msg = (
                f'{src_path} is {src_shape[1]}x{src_shape[0]} (WxH) but its image '
                f'{img_path} is {w}x{h}'
            )
            if self.point_size_mismatch == 'error' or self.point_type == 'mask':
                raise ValueError(msg)
            warnings.warn(f'{msg}; rescaling its points into the image frame', UserWarning)
            points = rescale_points(points, src_shape, (h, w))
            self._num_rescaled += 1
        return points

    def _join_prefix(self) -> None:
        # MMEngine joins every prefix to data_root and refuses None; seg_map_path=None (a set
        # without masks) must stay None.
        unset = [k for k, v in self.data_prefix.items() if v is None]
        for key in unset:
            del self.data_prefix[key]
        super()._join_prefix()
        for key in unset:
            self.data_prefix[key] = None

    def load_data_list(self) -> List[dict]:
        """Read the split and every image's points.

        Returns:
            list[dict]: One data info per stem of the split, in split order.
        """
        stems = self._read_split()
        img_dir = self.data_prefix.get('img_path', '') or ''
        ann_dir = self.data_prefix.get('seg_map_path', None)
        if self.point_type not in (None, 'mask'):
            point_dir = self.point_dirs[self.point_type]
            self._point_dir = (
                point_dir if self.data_root is None else osp.join(self.data_root, point_dir)
            )
        self._num_rescaled = 0
        data_list = []
        num_points = num_empty = 0
        for stem in stems:
            img_path = osp.join(img_dir, stem + self.img_suffix)
            self._check_file(img_path, stem, 'image')
            seg_map_path = None
            if ann_dir is not None:
                seg_map_path = osp.join(ann_dir, stem + self.seg_map_suffix)
                self._check_file(seg_map_path, stem, 'mask')
            points = self._load_points(stem, img_path, seg_map_path)
            num_points += len(points)
            num_empty += int(len(points) == 0)
            data_list.append(
                dict(
                    img_path=img_path,
                    seg_map_path=seg_map_path,
                    stem=stem,
                    part=self._part_of(stem),
                    gt_points=points,
                    mask_scale=self.mask_scale,
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[],
                )
            )
        if self.point_type is None:
            summary = 'no points (point_type=None)'
        else:
            summary = (
                f'{num_points} {self.point_type} points, {num_empty} images without '
                f'points (kept as background), {self._num_rescaled} point maps rescaled'
            )
        print_log(
            f'{self.__class__.__name__} {self.ann_file}: {len(data_list)} images, {summary}',
            logger='current',
        )
        if self.check_files:
            self._check_files(data_list)
        return data_list

    def _check_files(self, data_list: List[dict]) -> None:
        """Decode every file of the split; raise one error listing all problems."""
        # Imported here: the checker builds on this module's layout rules.
        from .check import LABEL_KINDS, SampleFiles, check_samples

        point_dir = None if self.point_type in (None, 'mask') else self._point_dir
        samples = [
            SampleFiles(
                stem=d['stem'],
                img_path=d['img_path'],
                seg_map_path=d['seg_map_path'],
                point_paths={}
                if point_dir is None
                else {self.point_type: osp.join(point_dir, d['stem'] + self.seg_map_suffix)},
            )
            for d in data_list
        ]
        result = check_samples(
            samples, mask_scale=self.mask_scale, point_size_mismatch=self.point_size_mismatch
        )
        errors = [p for p in result.problems if p.kind not in LABEL_KINDS]
        labels = [p for p in result.problems if p.kind in LABEL_KINDS]
        if labels:
            warnings.warn(
                f'{self.ann_file}: {len(labels)} point label(s) miss their target:\n'
                + '\n'.join(map(str, labels)),
                UserWarning,
            )
        if errors:
            raise ValueError(
                f'{self.ann_file}: {len(errors)} problem(s) in the files of '
                f'{len(data_list)} samples (check_files=True):\n' + '\n'.join(map(str, errors))
            )
        print_log(
            f'{self.__class__.__name__} {self.ann_file}: every file decodes and agrees '
            '(check_files=True)',
            logger='current',
        )
