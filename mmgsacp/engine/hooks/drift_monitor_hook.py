"""Makes Self-Referential Propagation Drift measurable: the online targets against true masks."""

from __future__ import annotations

import json
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...models.pseudo_labels import PointTargets, region_area, touches_support_edge, window_of
from ...utils.fileio import atomic_write_bytes
from .utils import unwrap_model


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    union = (a | b).sum().item()
    return float((a & b).sum().item() / union) if union else 1.0


def drift_statistics(
    targets: PointTargets,
    masks: Optional[torch.Tensor],
    student_targets: Optional[PointTargets] = None,
    negatives=None,
) -> Dict[str, float]:
    """Summary of one batch's pseudo-masks.

    Args:
        targets (PointTargets): the targets the loss used.
        masks (Tensor | None): (B, H, W) true masks (0/1, 255 = padding), monitoring only.
        student_targets (PointTargets | None): targets from the student's own embedding when
            a teacher produced ``targets``.
        negatives (Negatives | None): the contrastive loss's negatives of the step
            (:class:`mmgsacp.models.losses.Negatives`).

    Returns:
        dict: ``pseudo_iou`` (pseudo-mask vs true mask, over the batch), ``area_ratio``
        (pseudo / true target pixels), ``collapsed`` (share of points whose region is the point
        alone), ``edge`` (share of regions touching their support's edge), ``ignore_share``
        (ignored pixels / pseudo-target pixels), ``region_core_ratio`` (median over points of
        region size / core blob size); with true masks also ``target_as_background`` (share of
        true-target pixels labelled background) and ``band_precision`` (share of the band
        pixels accepted as target that are true target, over the points' windows; absent when
        no band pixel was accepted); with a teacher, ``agreement`` (IoU of student and teacher
        target maps); with negatives, ``fp_pixels`` (false-positive pixels per image) and,
        with true masks, ``negative_target_share`` (share of chosen negatives that are true
        target pixels).
    """
    pseudo = targets.labels == 1
    stats: Dict[str, float] = {}
    num_points = int(targets.points.shape[0])
    if num_points:
        area = region_area(targets).float()
        stats['collapsed'] = float((area <= 1).float().mean())
        stats['edge'] = float(touches_support_edge(targets).float().mean())
        core = targets.core.flatten(1).sum(1).float().clamp_min(1)
        stats['region_core_ratio'] = float((area / core).median())
    stats['ignore_share'] = float((targets.labels == 255).sum() / max(int(pseudo.sum()), 1))
    truth = None
    if masks is not None:
        valid = masks != 255
        truth = (masks == 1) & valid
        p = pseudo & valid
        stats['pseudo_iou'] = _iou(p, truth)
        stats['area_ratio'] = float(p.sum() / max(int(truth.sum()), 1))
        stats['target_as_background'] = float(
            (truth & (targets.labels == 0)).sum() / max(int(truth.sum()), 1)
        )
        if num_points:
            truth_win = window_of(truth.unsqueeze(1).float(), targets)[:, 0] > 0.5
            accepted = targets.regions & targets.band
            if bool(accepted.any()):
                stats['band_precision'] = float((accepted & truth_win).sum() / accepted.sum())
    if student_targets is not None:
        stats['agreement'] = _iou(student_targets.labels == 1, pseudo)
    if negatives is not None:
        B = targets.labels.shape[0]
        stats['fp_pixels'] = float(negatives.false_positive.sum()) / max(B, 1)
        if truth is not None and num_points:
            rows = targets.points[:, 0:1].to(truth.device)
            hit = truth.reshape(B, -1)[rows, negatives.pixels] & negatives.valid
            stats['negative_target_share'] = float(hit.sum() / max(int(negatives.valid.sum()), 1))
    return stats


def drift_grid(
    image: torch.Tensor,
    targets: PointTargets,
    masks: Optional[torch.Tensor],
    max_points: int = 8,
    scale: int = 4,
) -> np.ndarray:
    """A uint8 BGR picture, one row per point: image window | pseudo-mask | true mask.

    Pseudo-mask colours: white target, grey ignored, black background; the point is red.
    """
    radius = int(targets.radius)
    size = 2 * radius + 1
    rows = []
    pts = targets.points[:max_points].cpu()
    labels = targets.labels.cpu()
    img = image[:, 0].detach().float().cpu()
    for k, (b, x, y) in enumerate(pts.tolist()):

        def window(t: torch.Tensor, fill: float) -> np.ndarray:
            h, w = t.shape[-2:]
            out = np.full((size, size), fill, dtype=np.float32)
            y0, x0 = y - radius, x - radius
            ys, xs = max(y0, 0), max(x0, 0)
            ye, xe = min(y0 + size, h), min(x0 + size, w)
            out[ys - y0 : ye - y0, xs - x0 : xe - x0] = t[ys:ye, xs:xe].numpy()
            return out

        win = window(img[b], float('nan'))
        lo, hi = np.nanmin(win), np.nanmax(win)
        win = np.nan_to_num((win - lo) / max(hi - lo, 1e-6) * 255)
        lab = window(labels[b].float(), 0)
        pseudo = np.where(lab == 1, 255, np.where(lab == 255, 110, 0))
        true = (
            window((masks[b].cpu() == 1).float(), 0) * 255
            if masks is not None
            else np.zeros_like(win)
        )
        tiles = [np.repeat(t.astype(np.uint8)[..., None], 3, axis=2) for t in (win, pseudo, true)]
        for t in tiles:
            t[radius, radius] = (0, 0, 255)
        row = np.concatenate(
            [np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=60) for t in tiles], axis=1
        )
        rows.append(row)
    if not rows:
        return np.zeros((size * scale, 3 * size * scale, 3), dtype=np.uint8)
    grid = np.concatenate(rows, axis=0)
    return cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


@HOOKS.register_module()
class DriftMonitorHook(Hook):
    """Logs what the online targets look like against the held-back full masks.

    Every ``interval`` iterations it asks the :class:`PointSupervisedSegmentor` (or any
    segmentor with ``monitor_request`` / ``monitor_state``: LESPS's and PAL's, which report the
    ``stats`` of their stored labels themselves, without a grid) to keep that step's targets
    (and the batch's full masks, which never reach the loss), then logs
    :func:`drift_statistics` as ``train/drift_*`` scalars (log lines and every visualizer
    backend: TensorBoard / W&B by config), appends them to ``<work_dir>/drift.jsonl`` (the drift
    curve), and every ``grid_interval`` iterations saves :func:`drift_grid` to
    ``<work_dir>/drift/iter_<N>.png``.

    Args:
        interval (int): iterations between measurements. Defaults to 50.
        grid_interval (int): iterations between saved grids; 0 disables. Defaults to 500.
        max_points (int): points shown in a grid. Defaults to 8.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50, grid_interval: int = 500, max_points: int = 8) -> None:
        if interval <= 0:
            raise ValueError(f'DriftMonitorHook: interval must be > 0, got {interval}')
        self.interval = interval
        self.grid_interval = grid_interval
        self.max_points = max_points

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = unwrap_model(runner)
        if hasattr(model, 'monitor_request') and self.every_n_train_iters(runner, self.interval):
            model.monitor_request = True

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = unwrap_model(runner)
        state = getattr(model, 'monitor_state', None)
        if not state:
            return
        model.monitor_state = {}
        targets = state.get('targets')
        if targets is None:
            # a segmentor whose labels are not PointTargets (LESPS's evolving labels) reports
            # its statistics itself
            stats = dict(state['stats'])
        else:
            stats = drift_statistics(
                targets, state['masks'], state['student_targets'], state.get('negatives')
            )
            stats['affinity_weight'] = float(state['affinity_weight'])
        step = runner.iter + 1
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/drift_{key}', value)
        runner.visualizer.add_scalars({f'drift/{k}': v for k, v in stats.items()}, step=step)
        if runner.rank == 0:
            with open(osp.join(runner.work_dir, 'drift.jsonl'), 'a') as f:
                f.write(json.dumps(dict(iter=step, **stats)) + '\n')
            if self.grid_interval and step % self.grid_interval == 0 and targets is not None:
                grid = drift_grid(state['image'], targets, state['masks'], self.max_points)
                ok, png = cv2.imencode('.png', grid)
                if ok:
                    atomic_write_bytes(
                        png.tobytes(), osp.join(runner.work_dir, 'drift', f'iter_{step}.png')
                    )
                runner.visualizer.add_image('drift_grid', grid[..., ::-1], step=step)
