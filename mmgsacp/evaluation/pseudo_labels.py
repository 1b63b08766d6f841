"""How good are point-generated pseudo-masks? Scores against the true masks, and a ceiling.

Two pieces, both pure:

* :class:`PseudoMaskScore` accumulates, over a data set, the pixels of pseudo-masks against the
  true masks (ignored pixels left out of both), per part and overall: IoU (total intersection
  over total union, as the drift monitor measures it: docs/en/drift_monitor.md), precision,
  recall and
  the area ratio pseudo / true.
* :func:`oracle_threshold_regions` answers "could a better intensity gate do it?": for each
  point it grows the 8-connected blob through ``I(x) - mu >= f * (I(p) - mu)`` for a ladder of
  fractions ``f`` and keeps, *knowing the true mask*, the blob that matches it best. No rule
  that thresholds the intensity once per point and keeps the blob holding the point can score
  above it (up to the ladder's resolution), so it bounds every prior-gate setting.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..models.pseudo_labels import IGNORE_INDEX, center_seed, point_peak, propagate, ring_statistics

#: Default ladder of relative thresholds for :func:`oracle_threshold_regions`.
DEFAULT_FRACTIONS = tuple(float(f) for f in np.round(np.linspace(0.05, 0.95, 19), 2))


def relative_threshold_regions(
    intensity: Tensor,
    inside: Tensor,
    support: Tensor,
    ring: Tensor,
    radius: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> Tensor:
    """Blobs holding each point for a ladder of contrast fractions, all at once.

    Args:
        intensity: ``(P, S, S)`` float window intensities.
        inside: ``(P, S, S)`` bool, in-image positions.
        support: ``(P, S, S)`` bool, each point's valid window.
        ring: ``(P, S, S)`` bool, the background band (see ``ring_statistics``).
        radius: Window radius ``R``.
        fractions: ``F`` values of ``f``.

    Returns:
        ``(P, F, S, S)`` bool: for each ``f``, the 8-connected blob of
        ``support & (I - mu >= f * (I(p) - mu))`` that holds the point (the point always).
    """
    mu, _ = ring_statistics(intensity, support, ring)
    peak = point_peak(intensity, inside, radius)
    f = torch.as_tensor(list(fractions), dtype=intensity.dtype, device=intensity.device).view(
        1, -1, 1, 1
    )
    cand = support.unsqueeze(1) & ((intensity - mu).unsqueeze(1) >= f * (peak - mu).unsqueeze(1))
    return propagate(center_seed(intensity.shape[0], radius, intensity.device), cand, radius)


def oracle_threshold_regions(candidates: Tensor, truth: Tensor) -> Tensor:
    """Per point, the candidate region with the highest IoU against the true mask.

    Args:
        candidates: ``(P, F, S, S)`` bool regions (e.g. :func:`relative_threshold_regions`).
        truth: ``(P, S, S)`` bool true mask in each window.

    Returns:
        ``(P, S, S)`` bool, the best candidate of each point (the first on ties).
    """
    t = truth.unsqueeze(1)
    inter = (candidates & t).flatten(2).sum(2).float()
    union = (candidates | t).flatten(2).sum(2).float().clamp_min(1.0)
    best = (inter / union).argmax(1)
    return candidates[torch.arange(candidates.shape[0], device=candidates.device), best]


class PseudoMaskScore:
    """Pixel counts of pseudo-masks against true masks, per group (part) and overall."""

    KEYS = ('inter', 'union', 'pseudo', 'true')

    def __init__(self) -> None:
        self.counts: Dict[str, np.ndarray] = {}

    def add(self, labels: np.ndarray, truth: np.ndarray, group: Optional[str] = None) -> None:
        """Count one image.

        Args:
            labels: ``(H, W)`` pseudo labels, 1 target, ``255`` ignored, anything else
                background.
            truth: ``(H, W)`` bool true mask.
            group: Part name; every image also counts in ``'all'``.

        Raises:
            ValueError: If the shapes differ.
        """
        if labels.shape != truth.shape:
            raise ValueError(f'pseudo labels {labels.shape} and mask {truth.shape} differ in size')
        valid = labels != IGNORE_INDEX
        pseudo = (labels == 1) & valid
        true = truth.astype(bool) & valid
        row = np.array(
            [(pseudo & true).sum(), (pseudo | true).sum(), pseudo.sum(), true.sum()], dtype=np.int64
        )
        for key in {'all', group or 'all'}:
            self.counts[key] = self.counts.get(key, np.zeros(4, np.int64)) + row

    def summary(self) -> Dict[str, Dict[str, float]]:
        """``{group: {'IoU', 'precision', 'recall', 'area_ratio'}}``, ``'all'`` last."""
        out = {}
        for key in sorted(self.counts, key=lambda k: (k == 'all', k)):
            inter, union, pseudo, true = (float(v) for v in self.counts[key])
            out[key] = dict(
                IoU=inter / union if union else 1.0,
                precision=inter / pseudo if pseudo else 1.0,
                recall=inter / true if true else 1.0,
                area_ratio=pseudo / true if true else float('nan'),
            )
        return out


__all__ = [
    'DEFAULT_FRACTIONS',
    'relative_threshold_regions',
    'oracle_threshold_regions',
    'PseudoMaskScore',
]
