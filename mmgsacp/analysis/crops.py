"""Target pixels that training crops cut off from their point.

A crop window can cut a target whose point lies outside it. The visible part of that target
then has no point in the crop, and a point-supervised method trains it as background.
:func:`count_crops` runs a config's training pipeline up to its ``TargetAwareRandomCrop`` and
counts, in each crop, the 8-connected components of the true mask that hold no point within one
pixel.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import Compose
from mmengine.config import Config

from mmgsacp.evaluation.functional import label_components
from mmgsacp.utils.io import InputError, write_json

from .training_set import build_train_dataset, load_config

CROP = 'TargetAwareRandomCrop'
WHOLE = 'whole images'


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
        pointed[comps.labels[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]] = True
    missed = ~pointed[1:]
    return comps.num, int(missed.sum()), int(comps.areas.sum()), int(comps.areas[missed].sum())


@dataclass
class CropCount:
    """Running totals of :func:`unpointed_targets` over crops, under the names they are
    reported with."""

    crops: int = 0
    crops_with_target: int = 0
    crops_with_unpointed: int = 0
    components: int = 0
    unpointed_components: int = 0
    target_pixels: int = 0
    unpointed_pixels: int = 0

    def add(self, mask: np.ndarray, points: np.ndarray) -> None:
        comps, missed, pixels, missed_px = unpointed_targets(mask, points)
        self.crops += 1
        self.crops_with_target += int(pixels > 0)
        self.crops_with_unpointed += int(missed > 0)
        self.components += comps
        self.unpointed_components += missed
        self.target_pixels += pixels
        self.unpointed_pixels += missed_px

    def summary(self) -> Dict[str, float]:
        """The totals, then the share of target pixels without a point, the share of crops
        with such a target and the share of crops holding any target pixel."""
        return dict(
            asdict(self),
            unpointed_pixel_share=self.unpointed_pixels / max(self.target_pixels, 1),
            crop_share=self.crops_with_unpointed / max(self.crops, 1),
            target_crop_share=self.crops_with_target / max(self.crops, 1),
        )


def loading_and_crop(cfg: Config) -> Tuple[List[dict], dict]:
    """The training pipeline's steps before its crop, and the crop's own config.

    Raises:
        ValueError: The pipeline has no :data:`CROP` step.
    """
    pipeline = list(cfg.train_dataloader.dataset.pipeline)
    names = [step['type'] for step in pipeline]
    if CROP not in names:
        raise ValueError(f'the training pipeline has no {CROP} (steps: {names})')
    i = names.index(CROP)
    return pipeline[:i], dict(pipeline[i])


def count_crops(
    cfg: Config,
    crops: int = 3000,
    seed: int = 0,
    point_margins: Optional[Sequence[int]] = None,
    data_root: Optional[str] = None,
) -> Tuple[Dict[str, dict], int]:
    """Count the unpointed targets of ``crops`` training crops, one row per point margin.

    Images are drawn uniformly (as the shuffling sampler does); each margin's row redraws the
    crops with the same ``seed``, so rows differ by the margin alone. The first row,
    :data:`WHOLE`, counts the same on the uncropped images: components the labels themselves
    leave without a point (the floor no crop rule can go below).

    Args:
        cfg: Training config whose pipeline holds a ``TargetAwareRandomCrop``.
        crops: Number of crops per row (>= 1).
        seed: Seeds the image draw and the crops' randomness.
        point_margins: ``TargetAwareRandomCrop(point_margin=M)`` rows (default: the config's).
        data_root: Replaces the training set's ``data_root``.

    Returns:
        ``{row name: CropCount.summary()}`` and the number of distinct images drawn.

    Raises:
        InputError: No crop in the pipeline, an unreadable or empty training set, or a sample
            without a mask.
    """
    if crops < 1:
        raise InputError(f'--crops must be >= 1, got {crops}')
    try:
        before, crop_cfg = loading_and_crop(cfg)
    except ValueError as err:
        raise InputError(f'cannot read the training set: {err}') from err
    dataset = build_train_dataset(cfg, data_root)
    if len(dataset) == 0:
        raise InputError('the training set is empty')
    load = Compose(before)
    margins = point_margins or [int(crop_cfg.get('point_margin', 0))]
    draws = np.random.default_rng(seed).integers(0, len(dataset), crops)

    rows: Dict[str, CropCount] = {WHOLE: CropCount()}
    samples = {}
    for i in np.unique(draws):
        sample = load(dataset.get_data_info(int(i)))
        if sample.get('gt_seg_map') is None:
            raise InputError(
                f'{sample.get("img_path")}: no mask (the count needs the true '
                'masks; load them with LoadIRAnnotations(with_mask=True))'
            )
        samples[int(i)] = sample
        rows[WHOLE].add(sample['gt_seg_map'], sample['gt_points'])
    for margin in margins:
        crop = Compose([dict(crop_cfg, point_margin=margin)])
        count = rows.setdefault(f'crop, point_margin={margin}', CropCount())
        np.random.seed(seed)
        for i in draws:
            # The crop modifies the dict it gets: hand it a shallow copy.
            out = crop(dict(samples[int(i)]))
            count.add(out['gt_seg_map'], out['gt_points'])
    return {name: count.summary() for name, count in rows.items()}, len(samples)


def crop_table(rows: Dict[str, dict], crops: int, images: int) -> str:
    """The rows of :func:`count_crops` as a markdown table under a one-line title."""
    lines = [
        f'{crops} crops of {images} images; target components (8-connected) with no '
        'point within 1 px',
        '| rows | with a target | with an unpointed one | components | unpointed | target px '
        '| unpointed px |',
        '|---|---|---|---|---|---|---|',
    ]
    for name, s in rows.items():
        held = f'{s["crops_with_target"]} ({100 * s["target_crop_share"]:.2f} %)'
        hit = f'{s["crops_with_unpointed"]} ({100 * s["crop_share"]:.2f} %)'
        if name == WHOLE:
            held = f'{s["crops_with_target"]} images'
            hit = f'{s["crops_with_unpointed"]} images'
        lines.append(
            f'| {name} | {held} | {hit} | {s["components"]} | {s["unpointed_components"]} | '
            f'{s["target_pixels"]} | {s["unpointed_pixels"]} '
            f'({100 * s["unpointed_pixel_share"]:.2f} %) |'
        )
    return '\n'.join(lines)


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/analyze_crops.py``'s work on its parsed arguments: print the crop
    table, write ``--json``. Returns the exit status."""
    if args.crops < 1:
        raise InputError(f'--crops must be >= 1, got {args.crops}')
    cfg = load_config(args.config, args.cfg_options)
    rows, images = count_crops(cfg, args.crops, args.seed, args.point_margin, args.data_root)
    print(crop_table(rows, args.crops, images))
    if args.json:
        write_json(dict(config=args.config, crops=args.crops, seed=args.seed, rows=rows), args.json)
    return 0
