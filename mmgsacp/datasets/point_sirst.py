"""SIRST3-layout dataset with single-point labels."""
from __future__ import annotations

import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Union

import cv2
import mmengine
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image

from .points import centroid_points, empty_points, points_from_map

DEFAULT_POINT_DIRS = {'centroid': 'masks_centroid', 'coarse': 'masks_coarse'}


def _read_gray(path: str, what: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise OSError(f'cannot read {what} {path}')
    return img


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
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``pipeline``,
            ``test_mode``, ``lazy_init``, ``indices``, ...).

    Each data info holds ``img_path``, ``seg_map_path`` (None without masks), ``stem``,
    ``part`` (None when unknown), ``gt_points`` (float32 (K, 2) integer-valued (x, y) pixel
    coordinates of the image; (0, 2) when there are none), ``label_map``,
    ``reduce_zero_label=False`` and ``seg_fields=[]``.
    """
    METAINFO = dict(classes=('background', 'target'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_root: str,
                 ann_file: str,
                 data_prefix: dict = dict(img_path='images', seg_map_path='masks'),
                 point_type: Optional[str] = 'centroid',
                 point_dirs: Optional[Dict[str, str]] = None,
                 point_size_mismatch: str = 'rescale',
                 part_map: Optional[Union[str, Dict[str, str]]] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        self.point_dirs = dict(DEFAULT_POINT_DIRS if point_dirs is None else point_dirs)
        if point_type is not None and point_type != 'mask' and point_type not in self.point_dirs:
            raise ValueError(f"point_type must be None, 'mask' or one of "
                             f'{sorted(self.point_dirs)}, got {point_type!r}')
        if point_size_mismatch not in ('rescale', 'error'):
            raise ValueError("point_size_mismatch must be 'rescale' or 'error', got "
                             f'{point_size_mismatch!r}')
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
            **kwargs)

    def _read_split(self) -> List[str]:
        if self._whole_folder:
            folder = self.data_prefix['img_path']
            if not osp.isdir(folder):
                raise FileNotFoundError(f'image folder {folder} does not exist')
            suffix = self.img_suffix
            stems = sorted(f[:-len(suffix)] for f in os.listdir(folder) if f.endswith(suffix))
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
            raise FileNotFoundError(f'split {self.ann_file} lists {stem!r} but its {what} {path} '
                                    'does not exist')

    def _load_points(self, stem: str, img_path: str,
                     seg_map_path: Optional[str]) -> np.ndarray:
        """(K, 2) float32 (x, y) points of one image, in the image's pixel frame."""
        if self.point_type is None:
            return empty_points()
        if self.point_type == 'mask':
            if seg_map_path is None:
                raise ValueError("point_type='mask' needs masks (data_prefix['seg_map_path'])")
            mask = _read_gray(seg_map_path, 'mask')
            src_path, src_shape = seg_map_path, mask.shape
            points = centroid_points(mask)
        else:
            src_path = osp.join(self._point_dir, stem + self.seg_map_suffix)
            self._check_file(src_path, stem, f'{self.point_type} point map')
            point_map = _read_gray(src_path, 'point map')
            src_shape = point_map.shape
            points = points_from_map(point_map)
        # Header only: no pixel decode.
        with Image.open(img_path) as im:
            w, h = im.size
        if src_shape != (h, w):
            msg = (f'{src_path} is {src_shape[1]}x{src_shape[0]} (WxH) but its image '
                   f'{img_path} is {w}x{h}')
            if self.point_size_mismatch == 'error' or self.point_type == 'mask':
                raise ValueError(msg)
            warnings.warn(f'{msg}; rescaling its points into the image frame', UserWarning)
            scale = np.array([w / src_shape[1], h / src_shape[0]], dtype=np.float64)
            # Pixel centre to pixel centre, so a point stays on the same content.
            points = np.floor((points.astype(np.float64) + 0.5) * scale)
            points = np.clip(points, 0, [w - 1, h - 1]).astype(np.float32)
            self._num_rescaled += 1
        return points

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
            self._point_dir = point_dir if self.data_root is None else osp.join(
                self.data_root, point_dir)
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
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[]))
        if self.point_type is None:
            summary = 'no points (point_type=None)'
        else:
            summary = (f'{num_points} {self.point_type} points, {num_empty} images without '
                       f'points (kept as background), {self._num_rescaled} point maps rescaled')
        print_log(f'{self.__class__.__name__} {self.ann_file}: {len(data_list)} images, '
                  f'{summary}', logger='current')
        return data_list
