"""MMEngine metric for infrared small-target detection: mIoU, nIoU, Pd, Fa."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from mmgsacp.datasets.parts import part_of
from mmgsacp.evaluation.functional import (
    DEFAULT_SIZE_BINS,
    HEADLINE_KEYS,
    evaluate_masks,
    image_stats,
    mask_from_label_map,
    mask_from_logits,
    stratum_names,
    summarize,
)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _squeeze_map(x: Any, what: str) -> np.ndarray:
    """(1, H, W) or (H, W) tensor/array -> (H, W) array."""
    a = _to_numpy(x)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f'{what} must have shape (1, H, W) or (H, W), got {a.shape}')
    return a


def _fmt(v: float, digits: int = 2) -> str:
    return '-' if isinstance(v, float) and math.isnan(v) else f'{v:.{digits}f}'


def flatten_summary(
    overall: Mapping[str, float],
    per_part: Mapping[str, Mapping[str, float]],
    size_bins: Sequence[int],
) -> Dict[str, float]:
    """The metric dict a runner logs: headline metrics of the whole set under plain names
    (``mIoU``, ``nIoU``, ``Pd``, ``Fa``), the same per part (``<part>/mIoU``, ...), and the
    whole set's strata (``Pd_area<10``, ``cIoU_area<10``, ...)."""
    out = {k: float(overall[k]) for k in HEADLINE_KEYS}
    for part, agg in per_part.items():
        out.update({f'{part}/{k}': float(agg[k]) for k in HEADLINE_KEYS})
    for name in stratum_names(size_bins):
        out[f'Pd_{name}'] = float(overall[f'Pd_{name}'])
        out[f'cIoU_{name}'] = float(overall[f'cIoU_{name}'])
    return out


def summary_tables(
    overall: Mapping[str, float],
    per_part: Mapping[str, Mapping[str, float]],
    size_bins: Sequence[int],
    set_name: str = 'all',
) -> str:
    """Human-readable tables: headline metrics per set/part, then the truth-size strata."""
    main = PrettyTable(['set', 'images', 'targets', 'mIoU', 'nIoU', 'Pd', 'Fa (1e-6)'])
    for name, agg in [(set_name, overall), *per_part.items()]:
        main.add_row(
            [
                name,
                agg['images'],
                agg['targets'],
                _fmt(agg['mIoU']),
                _fmt(agg['nIoU']),
                _fmt(agg['Pd']),
                _fmt(agg['Fa']),
            ]
        )
    strata = PrettyTable(['target area (px)', 'targets', 'Pd', 'cIoU'])
    for name in stratum_names(size_bins):
        strata.add_row(
            [
                name,
                overall[f'targets_{name}'],
                _fmt(overall[f'Pd_{name}']),
                _fmt(overall[f'cIoU_{name}']),
            ]
        )
    return main.get_string() + '\n' + strata.get_string()


@METRICS.register_module()
class IRSTDMetric(BaseMetric):
    """The field's IRSTD metrics: mIoU, nIoU, Pd and Fa, per set and per SIRST3 part.

    Every image is reduced in :meth:`process` to a few counts
    (:func:`~mmgsacp.evaluation.functional.image_stats`), so gathering results across ranks is
    cheap; :meth:`compute_metrics` aggregates them. Keys have no prefix, so a checkpoint hook
    can use ``save_best='mIoU'``:

    * ``mIoU``, ``nIoU``, ``Pd`` (%), ``Fa`` (units of 1e-6) for the whole evaluated list;
    * ``<part>/mIoU`` ... for each part present (``NUAA-SIRST``, ``NUDT-SIRST``, ``IRSTD-1K``);
    * ``Pd_<stratum>`` and ``cIoU_<stratum>`` (%) per truth-component area stratum, e.g.
      ``Pd_area<10``, ``Pd_area10-50``, ``Pd_area50-200``, ``Pd_area>=200``.

    Args:
        size_bins: Upper area edges (px) of the truth-component strata.
        threshold: Probability threshold applied to ``seg_logits`` when ``use_logits``.
        use_logits: Binarise ``seg_logits`` (sigmoid, or 2-class softmax) at ``threshold``
            instead of reading ``pred_sem_seg``; falls back to ``pred_sem_seg`` for samples
            without logits.
        part_from_name: For samples whose metainfo has no ``part``, derive it from the image
            file name (:func:`mmgsacp.datasets.parts.part_of`).
        collect_device: Device used to gather results across ranks.
        prefix: Optional key prefix (none by default).
        collect_dir: Folder for gathering results on CPU.
    """

    default_prefix: Optional[str] = None

    def __init__(
        self,
        size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
        threshold: float = 0.5,
        use_logits: bool = False,
        part_from_name: bool = True,
        collect_device: str = 'cpu',
        prefix: Optional[str] = None,
        collect_dir: Optional[str] = None,
    ) -> None:
        # BaseMetric warns when no prefix is set; plain keys are intended here, so hand it a
        # placeholder and restore the caller's choice.
        super().__init__(
            collect_device=collect_device, prefix=prefix or 'irstd', collect_dir=collect_dir
        )
        self.prefix = prefix
        self.size_bins = tuple(int(b) for b in size_bins)
        stratum_names(self.size_bins)  # validates the edges early
        if not 0.0 < threshold < 1.0:
            raise ValueError(f'threshold must lie in (0, 1), got {threshold}')
        self.threshold = float(threshold)
        self.use_logits = use_logits
        self.part_from_name = part_from_name
        self._warned_no_logits = False

    def _prediction(self, sample: Mapping[str, Any]) -> np.ndarray:
        if self.use_logits:
            if 'seg_logits' in sample:
                return mask_from_logits(_to_numpy(sample['seg_logits']['data']), self.threshold)
            if not self._warned_no_logits:
                print_log(
                    'IRSTDMetric(use_logits=True): sample has no seg_logits, using pred_sem_seg',
                    logger='current',
                    level=logging.WARNING,
                )
                self._warned_no_logits = True
        return _squeeze_map(sample['pred_sem_seg']['data'], 'pred_sem_seg') > 0

    def sample_stats(self, sample: Any) -> Dict[str, Any]:
        """Per-image stats of one data sample (dict or ``SegDataSample``), with its part and
        file stem; what :meth:`process` stores."""
        if hasattr(sample, 'to_dict'):
            sample = sample.to_dict()
        img_path = sample.get('img_path')
        stem = Path(img_path).stem if img_path else None
        gt = mask_from_label_map(_squeeze_map(sample['gt_sem_seg']['data'], 'gt_sem_seg'))
        pred = self._prediction(sample)
        if pred.shape != gt.shape:
            raise ValueError(
                f'{img_path}: prediction {pred.shape} and ground truth {gt.shape} '
                'differ in size; both must be at the original image size'
            )
        part = sample.get('part')
        if part is None and self.part_from_name and stem is not None:
            part = part_of(stem)
        stats = image_stats(pred, gt, self.size_bins)
        stats['part'] = part
        stats['stem'] = stem
        return stats

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Reduce each sample of a batch to its small stats dict.

        Args:
            data_batch: Unused.
            data_samples: Model outputs as dicts (or ``SegDataSample``): ``pred_sem_seg.data``
                (1, H, W) 0/1, optional ``seg_logits.data`` (1, H, W), ``gt_sem_seg.data``
                (1, H, W) 0/1, all at original size; metainfo ``img_path`` and optional
                ``part``.
        """
        for sample in data_samples:
            self.results.append(self.sample_stats(sample))

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str, float]:
        """Aggregate the gathered per-image stats and log the tables.

        Returns:
            The flat metric dict described in the class docstring.
        """
        overall, per_part = summarize(results)
        print_log('\n' + summary_tables(overall, per_part, self.size_bins), logger='current')
        return flatten_summary(overall, per_part, self.size_bins)

    def evaluate_arrays(
        self,
        preds: Sequence[np.ndarray],
        gts: Sequence[np.ndarray],
        parts: Optional[Sequence[Optional[str]]] = None,
    ) -> Dict[str, float]:
        """Score in-memory masks outside a runner; leaves ``self.results`` untouched.

        Args:
            preds: N (H_i, W_i) predicted masks, bool or 0/1 (binarise probabilities with
                :func:`~mmgsacp.evaluation.functional.mask_from_logits` first).
            gts: N (H_i, W_i) truth masks (bool, 0/1 label maps or raw 0..255 masks).
            parts: Optional N part names.

        Returns:
            The same flat dict as :meth:`compute_metrics`.
        """
        overall, per_part = evaluate_masks(
            [np.asarray(p) for p in preds],
            [mask_from_label_map(g) for g in gts],
            parts,
            self.size_bins,
        )
        return flatten_summary(overall, per_part, self.size_bins)
