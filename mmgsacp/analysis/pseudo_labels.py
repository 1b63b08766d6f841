"""The pseudo-masks that points turn into, scored against the true masks of a training split.

Every scored image gets, from its point labels, on the whole image, with the config's target
settings (``model.decode_head.target_cfg``; the method's defaults when the config has none):

* ``prior``: the core blob of the intensity gate alone (see docs/en/method.md), for every
  kappa x beta; with the two-level rule (the default) also the core blob plus its whole outer
  band, and plus the band pixels that are true target (the band decided perfectly: what a
  perfect affinity could add to the prior);
* ``oracle threshold``: per point, the best single relative intensity threshold *chosen with
  the true mask*: a ceiling for any prior gate (see ``mmgsacp.evaluation.pseudo_labels``);
* ``pal initial``: PAL's model-free initial labels (filled edge contours holding the points,
  plus the points; :func:`mmgsacp.models.utils.pal.initial_label`), with the share of easy
  images (at least 80 % of their points got a contour);
* with a model: ``affinity``, the targets its embedding gives once warm-up is over, and
  ``prediction > 0.5``, the blob of its own prediction holding the point (same window).

Ignored pixels (the affinity's uncertain band) are left out of both pseudo and true pixels.
"""

from __future__ import annotations

import argparse
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.structures import SegDataSample

from mmgsacp.evaluation.pseudo_labels import (
    PseudoMaskScore,
    oracle_threshold_regions,
    relative_threshold_regions,
)
from mmgsacp.models.pseudo_labels import (
    center_seed,
    gather_windows,
    generate_point_targets,
    prior_blind,
    propagate,
    ring_mask,
    scatter_targets,
    support_mask,
    validate_points,
)
from mmgsacp.models.utils.pal import BINARY_LEVEL, initial_label, is_easy
from mmgsacp.utils.io import InputError, write_json

from .training_set import build_train_dataset, load_config

#: Loads image, mask and points, nothing else: every rule sees the whole image.
LOAD_PIPELINE = (dict(type='LoadIRImageFromFile'), dict(type='LoadIRAnnotations', with_mask=True))


def window_cfg(cfg: Config) -> dict:
    """The head's ``target_cfg`` without its ``mode`` (each row picks its own rule)."""
    head = cfg.model.get('decode_head', {})
    target_cfg = dict(head.get('target_cfg', None) or {})
    target_cfg.pop('mode', None)
    return target_cfg


@torch.no_grad()
def network_maps(model, image: np.ndarray) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """(1, D, H, W) embedding (None for a head without one) and (H, W) probability."""
    h, w = image.shape
    sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    data = model.data_preprocessor(
        dict(
            inputs=[torch.from_numpy(np.ascontiguousarray(image, np.float32))[None]],
            data_samples=[sample],
        ),
        False,
    )
    inputs = data['inputs']
    feats = model.extract_feat(inputs)
    head = model.decode_head
    logits = F.interpolate(
        head.forward(feats), size=inputs.shape[-2:], mode='bilinear', align_corners=False
    )[0, 0, :h, :w]
    emb = None
    if hasattr(head, 'embedding'):
        emb = head.embedding(feats, inputs.shape[-2:])[..., :h, :w]
    return emb, torch.sigmoid(logits)


def score_rows(
    dataset,
    indices: List[int],
    target_cfg: dict,
    grid: List[Tuple[float, float]],
    model=None,
    counts: Optional[Dict[str, int]] = None,
) -> Dict[str, PseudoMaskScore]:
    """Score every rule on the images ``indices`` of ``dataset``.

    Args:
        dataset: Items with ``img`` (H, W[, C]), ``gt_seg_map`` and ``gt_points`` (K, 2) x, y.
        indices: Dataset indices to score.
        target_cfg: Target settings (:func:`window_cfg`).
        grid: (kappa, beta) pairs of the prior rows.
        model: Segmentor for the ``affinity`` and ``prediction`` rows, or None.
        counts: If given, receives ``pal_easy_images`` (images PAL calls easy), ``pal_points``
            and ``pal_points_with_contour``, and with ``target_cfg['min_core'] > 0``
            ``blind_points``: points whose core blob (first row of ``grid``, after any
            ``fallback_gates``) stays under ``min_core`` px.

    Returns:
        ``{row name: score}``.

    Raises:
        InputError: An image's points fall outside it.
    """
    radius = int(target_cfg.get('radius', 16))
    ring_width = int(target_cfg.get('ring_width', 3))
    min_core = int(target_cfg.get('min_core', 0))
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
                torch.cat([torch.zeros(len(pts), 1, dtype=torch.long), torch.from_numpy(pts)], 1),
                1,
                h,
                w,
            )
        except ValueError as err:
            raise InputError(f'{info["img_path"]}: {err}') from err
        truth_map = torch.from_numpy(truth).float()[None, None]
        for g, (kappa, beta) in enumerate(grid):
            cfg = dict(target_cfg, kappa=kappa, beta=beta)
            t = generate_point_targets(image, None, points, mode='prior', **cfg)
            if counts is not None and g == 0 and min_core > 0:
                blind = int(prior_blind(t.core, min_core).sum())
                counts['blind_points'] = counts.get('blind_points', 0) + blind
            name = f'prior kappa={kappa:g} beta={beta:g}'
            add(name, t.labels[0].numpy(), truth, part)
            if cfg.get('rule', 'v2') == 'v2':
                # The outer band: all of it as target, and decided perfectly (by the truth).
                band_truth = gather_windows(truth_map, t.points, t.radius)[0][:, 0] > 0.5
                for suffix, regions in (
                    (' + band', t.core | t.band),
                    (' + band decided perfectly', t.core | (t.band & band_truth)),
                ):
                    labels = scatter_targets(
                        regions, torch.zeros_like(regions), t.points, t.radius, (1, h, w)
                    )
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
        pal_label, got = initial_label(np.asarray(img, np.float32), pts)
        add('pal initial', (pal_label > BINARY_LEVEL).astype(np.int64), truth, part)
        if counts is not None:
            for key, value in (
                ('pal_easy_images', int(is_easy(got))),
                ('pal_points', len(got)),
                ('pal_points_with_contour', int(got.sum())),
            ):
                counts[key] = counts.get(key, 0) + value
        if model is not None:
            emb, prob = network_maps(model, img)
            if emb is not None:
                t = generate_point_targets(
                    image,
                    emb,
                    points,
                    mode='affinity',
                    affinity_weight=1.0,
                    band_evidence=prob[None, None],
                    **target_cfg,
                )
                add('affinity (checkpoint)', t.labels[0].numpy(), truth, part)
            prob_win = gather_windows(prob[None, None], points, radius)[0][:, 0]
            blob = propagate(
                center_seed(len(points), radius), (support & (prob_win > 0.5)).unsqueeze(1), radius
            )[:, 0]
            labels = scatter_targets(blob, torch.zeros_like(blob), points, radius, (1, h, w))
            add('prediction > 0.5 (checkpoint)', labels[0].numpy(), truth, part)
        if (n + 1) % 200 == 0:
            print(f'{n + 1}/{len(indices)} images', flush=True)
    return rows


def score_pseudo_labels(
    cfg: Config,
    checkpoint: Optional[str] = None,
    data_root: Optional[str] = None,
    limit: Optional[int] = None,
    seed: int = 0,
    kappas: Optional[Sequence[float]] = None,
    betas: Optional[Sequence[float]] = None,
) -> dict:
    """Score the pseudo-masks of a config's training set.

    Args:
        cfg: Training config (its ``--cfg-options`` already applied).
        checkpoint: Weights for the model rows, or None.
        data_root: Replaces the training set's ``data_root``.
        limit: Score this many images with points, drawn with ``seed`` (default: all).
        seed: Seeds the draw and torch.
        kappas: Prior rows' kappa values (default: the config's).
        betas: Prior rows' beta values (default: the config's).

    Returns:
        ``{"images": N, "points": P, "target_cfg": dict, "rows": {row: {part: {"IoU",
        "precision", "recall", "area_ratio"}}}}``, parts including ``all``, PAL's shares, and
        ``blind_points`` when ``target_cfg`` sets ``min_core``.

    Raises:
        InputError: An unreadable training set or points outside an image.
    """
    torch.manual_seed(seed)
    target_cfg = window_cfg(cfg)
    kappas = kappas or [float(target_cfg.get('kappa', 2.0))]
    betas = betas or [float(target_cfg.get('beta', 0.3))]
    grid = [(k, b) for k in kappas for b in betas]
    dataset = build_train_dataset(cfg, data_root, LOAD_PIPELINE)
    indices = [i for i in range(len(dataset)) if len(dataset.get_data_info(i)['gt_points'])]
    if limit is not None and limit < len(indices):
        rng = np.random.default_rng(seed)
        indices = sorted(rng.choice(indices, limit, replace=False).tolist())
    model = None
    if checkpoint is not None:
        from mmgsacp.apis.inference import load_model

        model = load_model(cfg, checkpoint, device='cpu')
    counts: Dict[str, int] = {}
    rows = score_rows(dataset, indices, target_cfg, grid, model, counts)
    result = dict(
        images=len(indices),
        target_cfg=target_cfg,
        rows={name: score.summary() for name, score in rows.items()},
        pal_easy_share=counts['pal_easy_images'] / max(len(indices), 1),
        pal_contour_share=counts['pal_points_with_contour'] / max(counts['pal_points'], 1),
        points=counts['pal_points'],
    )
    if 'blind_points' in counts:
        result['blind_points'] = counts['blind_points']
    return result


def pseudo_label_table(result: dict) -> str:
    """The scores of :func:`score_pseudo_labels` as a markdown table under a one-line title."""
    rows = result['rows']
    parts = list(next(iter(rows.values())))
    lines = [
        f'{result["images"]} images with points; IoU / precision / recall / area ratio',
        f'| rule | {" | ".join(parts)} |',
        '|---' * (len(parts) + 1) + '|',
    ]
    for name, by_part in rows.items():
        cells = [
            f'{s["IoU"]:.3f} / {s["precision"]:.3f} / {s["recall"]:.3f} / {s["area_ratio"]:.2f}'
            for s in by_part.values()
        ]
        lines.append(f'| {name} | {" | ".join(cells)} |')
    if 'pal_easy_share' in result:
        lines.append(
            f'PAL: {100 * result["pal_easy_share"]:.1f} % of images easy, '
            f'{100 * result["pal_contour_share"]:.1f} % of points with a contour'
        )
    if 'blind_points' in result:
        lines.append(
            f'{result["blind_points"]} of {result["points"]} points with a core blob under '
            f'min_core={result["target_cfg"]["min_core"]} px (first prior row)'
        )
    return '\n'.join(lines)


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/analyze_pseudo_labels.py``'s work on its parsed arguments: print
    the scores, write ``--json``. Returns the exit status."""
    if not os.path.isfile(args.config):
        raise InputError(f'no config file {args.config}')
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        raise InputError(f'no checkpoint file {args.checkpoint}')
    cfg = load_config(args.config, args.cfg_options)
    result = score_pseudo_labels(
        cfg, args.checkpoint, args.data_root, args.limit, args.seed, args.kappa, args.beta
    )
    print(pseudo_label_table(result))
    if args.json:
        write_json(dict(config=args.config, checkpoint=args.checkpoint, **result), args.json)
    return 0
