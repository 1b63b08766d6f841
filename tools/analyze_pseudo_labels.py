#!/usr/bin/env python
"""Score the pseudo-masks that points turn into, against the true masks of a training split.

    python tools/analyze_pseudo_labels.py CONFIG [CHECKPOINT] [--data-root DIR] [--limit N]
        [--kappa 1 2 3] [--beta 0.2 0.3] [--json OUT] [--cfg-options KEY=VALUE ...]

Every image of the config's training set (or ``--limit`` of them, drawn with ``--seed``) gets,
from its point labels, on the whole image, with the config's target settings
(``model.decode_head.target_cfg``, which ``--cfg-options`` can change, e.g.
``model.decode_head.target_cfg.kappa=1``; the §1 defaults when the config has none):

* ``prior``: the core blob of the intensity gate alone, for every ``--kappa`` x ``--beta``;
  with the two-level rule (the default) also the core blob plus its whole outer band, and plus
  the band pixels that are true target (the band decided perfectly: what a perfect affinity
  could add to the prior);
* ``oracle threshold``: per point, the best single relative intensity threshold *chosen with
  the true mask*: a ceiling for any prior gate (see ``mmgsacp.evaluation.pseudo_labels``);
* with a CHECKPOINT: ``affinity``, the targets its embedding gives once warm-up is over
  (student weights), and ``prediction > 0.5``, the blob of its own prediction holding the point
  (within the same window).

It prints, per part and overall, IoU (total intersection / total union), precision, recall and
the area ratio pseudo / true, and writes them with ``--json``. Ignored pixels (the affinity's
uncertain band) are left out of both pseudo and true pixels. Exit status 2 on a usage or data
error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.append(REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import mmgsacp  # noqa: E402,F401  (registers the modules)
from mmgsacp.evaluation.pseudo_labels import (PseudoMaskScore,  # noqa: E402
                                              oracle_threshold_regions,
                                              relative_threshold_regions)
from mmgsacp.models.pseudo_labels import (center_seed, gather_windows,  # noqa: E402
                                              generate_point_targets, propagate, ring_mask,
                                              scatter_targets, support_mask, validate_points)
from mmgsacp.utils.fileio import atomic_write_text  # noqa: E402

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None)
    parser.add_argument('--data-root', default=None,
                        help='override train_dataloader.dataset.data_root')
    parser.add_argument('--limit', type=int, default=None, help='score N images (seeded)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--kappa', type=float, nargs='+', default=None)
    parser.add_argument('--beta', type=float, nargs='+', default=None)
    parser.add_argument('--json', default=None, help='write the scores here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config keys, e.g. the target settings')
    return parser.parse_args(argv)


def window_cfg(cfg: Config) -> dict:
    head = cfg.model.get('decode_head', {})
    target_cfg = dict(head.get('target_cfg', None) or {})
    target_cfg.pop('mode', None)  # each row picks its own rule
    return target_cfg


def build_dataset(cfg: Config, data_root: Optional[str]):
    ds_cfg = cfg.train_dataloader.dataset.copy()
    if data_root is not None:
        ds_cfg['data_root'] = data_root
    ds_cfg['pipeline'] = [dict(type='LoadIRImageFromFile'),
                          dict(type='LoadIRAnnotations', with_mask=True)]
    return DATASETS.build(ds_cfg)


@torch.no_grad()
def network_maps(model, image: np.ndarray) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """(1, D, H, W) embedding (None for a head without one) and (H, W) probability."""
    h, w = image.shape
    sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    data = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(np.ascontiguousarray(image, np.float32))[None]],
             data_samples=[sample]), False)
    inputs = data['inputs']
    feats = model.extract_feat(inputs)
    head = model.decode_head
    logits = F.interpolate(head.forward(feats), size=inputs.shape[-2:], mode='bilinear',
                           align_corners=False)[0, 0, :h, :w]
    emb = None
    if hasattr(head, 'embedding'):
        emb = head.embedding(feats, inputs.shape[-2:])[..., :h, :w]
    return emb, torch.sigmoid(logits)


def score_rows(dataset, indices: List[int], target_cfg: dict, grid: List[Tuple[float, float]],
               model=None) -> Dict[str, PseudoMaskScore]:
    radius = int(target_cfg.get('radius', 16))
    ring_width = int(target_cfg.get('ring_width', 3))
    rows: Dict[str, PseudoMaskScore] = {}

    def add(name, labels, truth, part):
        rows.setdefault(name, PseudoMaskScore()).add(labels, truth, part)

    for n, i in enumerate(indices):
        item = dataset[i]
        info = dataset.get_data_info(i)
        img = item['img'][..., 0] if item['img'].ndim == 3 else item['img']
        truth = item['gt_seg_map'].astype(bool)
        pts = np.asarray(item['gt_points'], np.int64).reshape(-1, 2)
        part = info.get('part')
        h, w = img.shape
        image = torch.from_numpy(np.ascontiguousarray(img, np.float32))[None, None]
        try:
            points = validate_points(
                torch.cat([torch.zeros(len(pts), 1, dtype=torch.long), torch.from_numpy(pts)],
                          1), 1, h, w)
        except ValueError as err:
            raise SystemExit(f"error: {info['img_path']}: {err}")
        truth_map = torch.from_numpy(truth).float()[None, None]
        for kappa, beta in grid:
            cfg = dict(target_cfg, kappa=kappa, beta=beta)
            t = generate_point_targets(image, None, points, mode='prior', **cfg)
            name = f'prior kappa={kappa:g} beta={beta:g}'
            add(name, t.labels[0].numpy(), truth, part)
            if cfg.get('rule', 'v2') == 'v2':
                # The outer band: all of it as target, and decided perfectly (by the truth).
                band_truth = gather_windows(truth_map, t.points, t.radius)[0][:, 0] > 0.5
                for suffix, regions in ((' + band', t.core | t.band),
                                        (' + band decided perfectly',
                                         t.core | (t.band & band_truth))):
                    labels = scatter_targets(regions, torch.zeros_like(regions), t.points,
                                             t.radius, (1, h, w))
                    add(name + suffix, labels[0].numpy(), truth, part)
        # the ceiling: the window geometry of the fixed-radius gate
        intensity, inside = gather_windows(image, points, radius)
        half = torch.full((len(points), 2), radius, dtype=torch.long)
        support = support_mask(inside, half, radius)
        ring = ring_mask(support, half, radius, ring_width)
        truth_win = gather_windows(truth_map, points, radius)[0][:, 0] > 0.5
        ladder = relative_threshold_regions(intensity[:, 0], inside, support, ring, radius)
        best = oracle_threshold_regions(ladder, truth_win)
        labels = scatter_targets(best, torch.zeros_like(best), points, radius, (1, h, w))
        add('oracle threshold', labels[0].numpy(), truth, part)
        if model is not None:
            emb, prob = network_maps(model, img)
            if emb is not None:
                t = generate_point_targets(image, emb, points, mode='affinity',
                                           affinity_weight=1.0, **target_cfg)
                add('affinity (checkpoint)', t.labels[0].numpy(), truth, part)
            prob_win = gather_windows(prob[None, None], points, radius)[0][:, 0]
            blob = propagate(center_seed(len(points), radius), (support & (prob_win > 0.5))
                             .unsqueeze(1), radius)[:, 0]
            labels = scatter_targets(blob, torch.zeros_like(blob), points, radius, (1, h, w))
            add('prediction > 0.5 (checkpoint)', labels[0].numpy(), truth, part)
        if (n + 1) % 200 == 0:
            print(f'{n + 1}/{len(indices)} images', flush=True)
    return rows


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isfile(args.config):
        print(f'error: no config file {args.config}', file=sys.stderr)
        return 2
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        print(f'error: no checkpoint file {args.checkpoint}', file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    target_cfg = window_cfg(cfg)
    kappas = args.kappa or [float(target_cfg.get('kappa', 2.0))]
    betas = args.beta or [float(target_cfg.get('beta', 0.3))]
    grid = [(k, b) for k in kappas for b in betas]
    try:
        dataset = build_dataset(cfg, args.data_root)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: cannot read the training set: {err}', file=sys.stderr)
        return 2
    indices = [i for i in range(len(dataset))
               if len(dataset.get_data_info(i)['gt_points'])]
    if args.limit is not None and args.limit < len(indices):
        rng = np.random.default_rng(args.seed)
        indices = sorted(rng.choice(indices, args.limit, replace=False).tolist())
    model = None
    if args.checkpoint is not None:
        from mmgsacp.apis.inference import load_model
        model = load_model(cfg, args.checkpoint, device='cpu')
    rows = score_rows(dataset, indices, target_cfg, grid, model)

    result = {name: score.summary() for name, score in rows.items()}
    parts = list(next(iter(result.values())))
    print(f'{len(indices)} images with points; IoU / precision / recall / area ratio')
    print(f"| rule | {' | '.join(parts)} |")
    print('|---' * (len(parts) + 1) + '|')
    for name, by_part in result.items():
        cells = [f"{s['IoU']:.3f} / {s['precision']:.3f} / {s['recall']:.3f} / "
                 f"{s['area_ratio']:.2f}" for s in by_part.values()]
        print(f"| {name} | {' | '.join(cells)} |")
    if args.json:
        payload = dict(config=args.config, checkpoint=args.checkpoint, images=len(indices),
                       target_cfg=target_cfg, rows=result)
        atomic_write_text(json.dumps(payload, indent=2), args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
