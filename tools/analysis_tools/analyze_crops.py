#!/usr/bin/env python
"""Count the target pixels that training crops cut off from their point.

    python tools/analyze_crops.py CONFIG [--data-root DIR] [--crops N] [--seed S]
        [--point-margin 0 2 4] [--json OUT] [--cfg-options KEY=VALUE ...]

A crop window can cut a target whose point lies outside it. The visible part of that target
then has no point in the crop, and a point-supervised method trains it as background. This
tool runs the config's training pipeline up to its ``TargetAwareRandomCrop`` on ``--crops``
samples (images drawn uniformly, as the shuffling sampler does; transform randomness seeded
with ``--seed``), and counts, in each crop, the 8-connected components of the true mask that
hold no point within one pixel. Each ``--point-margin`` value is one row, drawn with the same
seed (``TargetAwareRandomCrop(point_margin=M)`` avoids windows with a point just outside).

The first row, ``whole images``, counts the same on uncropped images: components the labels
themselves leave without a point (the floor no crop rule can go below).

Exit status 2 on a usage or data error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Tuple

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.append(REPO_ROOT)

from mmcv.transforms import Compose  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

import mmgsacp  # noqa: E402,F401  (registers the modules)
from mmgsacp.evaluation.functional import label_components  # noqa: E402
from mmgsacp.utils.fileio import atomic_write_text  # noqa: E402

CROP = 'TargetAwareRandomCrop'


def unpointed_targets(mask: np.ndarray, points: np.ndarray) -> Tuple[int, int, int, int]:
    """Target components of ``mask`` without a point within one pixel (8-connected).

    Args:
        mask: (H, W) seg map; 1 is target (255 padding and 0 are not).
        points: (K, 2) (x, y) pixel coordinates.

    Returns:
        (components, unpointed components, target pixels, unpointed target pixels).
    """
    comps = label_components(mask == 1)
    pointed = np.zeros(comps.num + 1, bool)  # index 0: background
    for x, y in np.round(np.asarray(points, np.float64).reshape(-1, 2)).astype(int):
        pointed[comps.labels[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]] = True
    missed = ~pointed[1:]
    return comps.num, int(missed.sum()), int(comps.areas.sum()), int(comps.areas[missed].sum())


class CropCount:
    """Running totals of :func:`unpointed_targets` over crops."""

    def __init__(self) -> None:
        self.crops = self.crops_hit = 0
        self.components = self.unpointed = self.pixels = self.unpointed_pixels = 0

    def add(self, mask: np.ndarray, points: np.ndarray) -> None:
        comps, missed, pixels, missed_px = unpointed_targets(mask, points)
        self.crops += 1
        self.crops_hit += int(missed > 0)
        self.components += comps
        self.unpointed += missed
        self.pixels += pixels
        self.unpointed_pixels += missed_px

    def summary(self) -> Dict[str, float]:
        return dict(
            crops=self.crops,
            crops_with_unpointed=self.crops_hit,
            components=self.components,
            unpointed_components=self.unpointed,
            target_pixels=self.pixels,
            unpointed_pixels=self.unpointed_pixels,
            unpointed_pixel_share=self.unpointed_pixels / max(self.pixels, 1),
            crop_share=self.crops_hit / max(self.crops, 1))


def loading_and_crop(cfg: Config) -> Tuple[List[dict], dict]:
    """The training pipeline's steps before its crop, and the crop's own config."""
    pipeline = list(cfg.train_dataloader.dataset.pipeline)
    names = [step['type'] for step in pipeline]
    if CROP not in names:
        raise ValueError(f'the training pipeline has no {CROP} (steps: {names})')
    i = names.index(CROP)
    return pipeline[:i], dict(pipeline[i])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--data-root', default=None,
                        help='override train_dataloader.dataset.data_root')
    parser.add_argument('--crops', type=int, default=3000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--point-margin', type=int, nargs='+', default=None,
                        help="crop rows to compare (default: the config's own)")
    parser.add_argument('--json', default=None, help='write the counts here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not os.path.isfile(args.config):
        print(f'error: no config file {args.config}', file=sys.stderr)
        return 2
    if args.crops < 1:
        print(f'error: --crops must be >= 1, got {args.crops}', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    try:
        before, crop_cfg = loading_and_crop(cfg)
        ds_cfg = cfg.train_dataloader.dataset.copy()
        if args.data_root is not None:
            ds_cfg['data_root'] = args.data_root
        ds_cfg['pipeline'] = []
        dataset = DATASETS.build(ds_cfg)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: cannot read the training set: {err}', file=sys.stderr)
        return 2
    if len(dataset) == 0:
        print('error: the training set is empty', file=sys.stderr)
        return 2
    load = Compose(before)
    margins = args.point_margin or [int(crop_cfg.get('point_margin', 0))]
    draws = np.random.default_rng(args.seed).integers(0, len(dataset), args.crops)

    rows: Dict[str, CropCount] = {'whole images': CropCount()}
    samples = {}
    for i in np.unique(draws):
        sample = load(dataset.get_data_info(int(i)))
        if sample.get('gt_seg_map') is None:
            print(f"error: {sample.get('img_path')}: no mask (the count needs the true "
                  'masks; load them with LoadIRAnnotations(with_mask=True))', file=sys.stderr)
            return 2
        samples[int(i)] = sample
        rows['whole images'].add(sample['gt_seg_map'], sample['gt_points'])
    for margin in margins:
        crop = Compose([dict(crop_cfg, point_margin=margin)])
        count = rows.setdefault(f'crop, point_margin={margin}', CropCount())
        np.random.seed(args.seed)
        for i in draws:
            # The crop modifies the dict it gets: hand it a shallow copy.
            out = crop(dict(samples[int(i)]))
            count.add(out['gt_seg_map'], out['gt_points'])

    result = {name: count.summary() for name, count in rows.items()}
    print(f'{args.crops} crops of {len(samples)} images; target components (8-connected) '
          'with no point within 1 px')
    print('| rows | crops with one | components | unpointed | target px | unpointed px |')
    print('|---|---|---|---|---|---|')
    for name, s in result.items():
        hit = f"{s['crops_with_unpointed']} ({100 * s['crop_share']:.2f} %)"
        if name == 'whole images':
            hit = f"{s['crops_with_unpointed']} images"
        print(f"| {name} | {hit} | {s['components']} | {s['unpointed_components']} | "
              f"{s['target_pixels']} | {s['unpointed_pixels']} "
              f"({100 * s['unpointed_pixel_share']:.2f} %) |")
    if args.json:
        payload = dict(config=args.config, crops=args.crops, seed=args.seed, rows=result)
        atomic_write_text(json.dumps(payload, indent=2), args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
