"""Where a detector's misses are, what kind they are, and whether the point prior saw them.

For a folder of saved probability maps (``tools/test.py --prob-dir``), every truth target of the
list is classified with :func:`mmgsacp.evaluation.misses.target_outcomes` (detected, or missed as
unseen / split / partial / offset) and counted per SIRST3 part and target-size stratum. With a
config, each target's point is also turned into the prior's core blob (the target rule of that
config in ``'prior'`` mode, the label prior-only trains on) and the blob's recall of the true
target is reported for the detected and the missed targets apart: a miss the prior never saw is
one that point supervision never taught.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch

from mmgsacp.datasets.parts import part_of
from mmgsacp.datasets.points import points_from_map
from mmgsacp.evaluation.functional import DEFAULT_SIZE_BINS, stratum_names
from mmgsacp.evaluation.misses import OUTCOMES, target_outcomes
from mmgsacp.models.pseudo_labels import generate_point_targets
from mmgsacp.utils.io import InputError, read_stems, write_json

from .pareto import find_probability_files, iter_pairs

#: A target whose prior blob covers less than this share of it counts as unseen by the prior.
BLIND_RECALL = 0.1
ALL = 'all'


def _read_grey(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f'cannot decode {path}')
    return img


def prior_recall(
    image: np.ndarray, points: np.ndarray, labels: np.ndarray, num: int, target_cfg: dict
) -> np.ndarray:
    """Recall of every truth target by the prior's core blobs grown from the points.

    Args:
        image: ``(H, W)`` grey image.
        points: ``(K, 2)`` float ``(x, y)`` points (floored to pixels).
        labels: ``(H, W)`` int truth component labels (``i + 1`` for target i).
        num: Number of truth targets.
        target_cfg: Keyword arguments of ``generate_point_targets`` (``mode`` is set to
            ``'prior'``).

    Returns:
        ``(num,)`` float64: the share of each target's pixels inside a core blob.
    """
    h, w = image.shape
    core = np.zeros((h, w), bool)
    if len(points):
        xy = np.floor(np.asarray(points, np.float64)).astype(np.int64)
        pts = torch.from_numpy(np.concatenate([np.zeros((len(xy), 1), np.int64), xy], 1))
        cfg = dict(target_cfg, mode='prior')
        t = generate_point_targets(
            torch.from_numpy(image.astype(np.float32))[None, None], None, pts, **cfg
        )
        core = t.labels[0].numpy() == 1
    on = labels[core]
    hit = np.bincount(on[on > 0], minlength=num + 1)[1:]
    area = np.bincount(labels.ravel(), minlength=num + 1)[1:]
    return hit / np.maximum(area, 1)


def analyze_misses(
    prob_dir: Path,
    data_root: Path,
    split: Optional[Path] = None,
    threshold: float = 0.5,
    target_cfg: Optional[dict] = None,
    point_type: str = 'centroid',
    size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
    progress: bool = True,
) -> Dict[str, object]:
    """Count detections and each kind of miss per part and size stratum.

    Args:
        prob_dir: Folder of ``<stem>.png`` / ``<stem>.npy`` probability maps at original size.
        data_root: A SIRST3-layout folder: ``masks/``, and with ``target_cfg`` ``images/`` and
            ``masks_<point_type>/``.
        split: File with one stem per line (default: every mask).
        threshold: Target where the probability is above it (as in Pd at that threshold).
        target_cfg: The target rule whose prior is measured; None: no prior columns.
        point_type: Which point maps the prior grows from.
        size_bins: Upper area edges of the strata.
        progress: Show a progress bar on stderr.

    Returns:
        ``{'threshold', 'images', 'rows'}``; each row has ``part`` (``'all'`` or a SIRST3
        part), ``stratum``, ``targets`` and a count per :data:`OUTCOMES` entry, and with a
        prior ``prior_recall_hit`` / ``prior_recall_miss`` (mean recall of the detected and of
        the missed targets) and ``prior_blind_hit`` / ``prior_blind_miss`` (share of them
        whose recall is below :data:`BLIND_RECALL`).

    Raises:
        InputError: A missing folder or file, or a map that does not match its mask.
    """
    masks = data_root / 'masks'
    for folder, what in ((prob_dir, '--prob-dir'), (masks, 'masks folder of --data-root')):
        if not folder.is_dir():
            raise InputError(f'{what} {folder} is not a folder')
    if split is not None and not split.is_file():
        raise InputError(f'--split {split} is not a file')
    if not 0.0 <= threshold < 1.0:
        raise InputError(f'--threshold must be in [0, 1), got {threshold}')
    stems = read_stems(masks, split)
    if not stems:
        raise InputError(f'nothing to analyse: no stems in {split or masks}')
    prob_paths = find_probability_files(prob_dir, stems)
    names = stratum_names(size_bins)
    edges = np.asarray(size_bins, np.int64)
    part_names: List[str] = []
    strata: List[np.ndarray] = []
    outcomes: List[np.ndarray] = []
    recalls: List[np.ndarray] = []
    for stem, (prob, gt) in zip(stems, iter_pairs(prob_paths, masks, stems, progress)):
        t = target_outcomes(prob > threshold, gt)
        strata.append(np.searchsorted(edges, t.areas, side='right'))
        part_names += [part_of(stem) or ''] * len(t.areas)
        outcomes.append(t.outcomes)
        if target_cfg is not None:
            image = _read_grey(data_root / 'images' / f'{stem}.png')
            point_map = _read_grey(data_root / f'masks_{point_type}' / f'{stem}.png')
            recalls.append(
                prior_recall(image, points_from_map(point_map), t.labels, len(t.areas), target_cfg)
            )
    outcome = np.concatenate(outcomes)
    stratum = np.concatenate(strata)
    target_part = np.array(part_names, dtype=object)
    recall = np.concatenate(recalls) if recalls else None
    rows = []
    for part in [ALL] + sorted(set(part_names) - {''}):
        in_part = np.ones(len(outcome), bool) if part == ALL else target_part == part
        for s, name in enumerate(names):
            sel = in_part & (stratum == s)
            if not sel.any():
                continue
            row: Dict[str, object] = dict(part=part, stratum=name, targets=int(sel.sum()))
            for i, kind in enumerate(OUTCOMES):
                row[kind] = int((outcome[sel] == i).sum())
            if recall is not None:
                for tag, which in (('hit', outcome == 0), ('miss', outcome != 0)):
                    r = recall[sel & which]
                    row[f'prior_recall_{tag}'] = float(r.mean()) if r.size else float('nan')
                    row[f'prior_blind_{tag}'] = (
                        float((r < BLIND_RECALL).mean()) if r.size else float('nan')
                    )
            rows.append(row)
    return dict(threshold=threshold, images=len(stems), rows=rows)


def misses_table(result: Dict[str, object]) -> str:
    """A Markdown table of :func:`analyze_misses`' rows."""
    rows = result['rows']
    prior = bool(rows) and 'prior_recall_hit' in rows[0]
    head = ['part', 'stratum', 'targets', 'Pd'] + [f'missed: {k}' for k in OUTCOMES[1:]]
    if prior:
        head += ['prior recall, detected / missed', 'prior blind, detected / missed']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [r['part'], r['stratum'], str(r['targets']), f'{100 * r["hit"] / r["targets"]:.2f}']
        cells += [str(r[k]) for k in OUTCOMES[1:]]
        if prior:
            cells.append(f'{r["prior_recall_hit"]:.2f} / {r["prior_recall_miss"]:.2f}')
            cells.append(f'{r["prior_blind_hit"]:.2f} / {r["prior_blind_miss"]:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/analyze_misses.py``'s work on its parsed arguments."""
    target_cfg = None
    if args.prior_config is not None:
        from .pseudo_labels import window_cfg
        from .training_set import load_config

        target_cfg = window_cfg(load_config(str(args.prior_config)))
    result = analyze_misses(
        args.prob_dir,
        args.data_root,
        args.split,
        args.threshold,
        target_cfg,
        args.point_type,
        progress=not args.no_progress,
    )
    print(f'{result["images"]} images, threshold {args.threshold:g}')
    print(misses_table(result))
    if args.json is not None:
        write_json(result, args.json)
        print(f'wrote {args.json}')
    return 0
