"""A binary segmentor trained on labels held in memory and rewritten during training (PAL)."""

from __future__ import annotations

from typing import Dict

import torch
from mmseg.registry import MODELS
from torch import Tensor

from ..pseudo_labels import IGNORE_INDEX
from .label_evolution_segmentor import label_drift_stats
from .label_store_segmentor import CropBatch, LabelStoreSegmentor


@MODELS.register_module()
class StoredLabelSegmentor(LabelStoreSegmentor):
    """:class:`LabelStoreSegmentor` trained on an :class:`ImageLabelStore`'s 8-bit labels.

    The store is owned and updated by a hook (``PALHook``), which attaches it with
    :meth:`attach_label_store`. Each training sample must carry ``pixel_coords`` (the
    coordinate pipeline) and its ``stem``: its label on the crop is read from the store through
    the coordinates, as a float in [0, 1] (stored value / 255; the loss binarises it), 255 on
    padding. A sample of an image that is not active is ignored whole (label 255), so an
    inactive image never trains even if a sampler lets it through.

    The full mask (``gt_sem_seg``) is read only for monitoring: ``label_iou`` in the losses
    dict, and the drift monitor's statistics on its steps; it never reaches the loss.

    Args:
        **kwargs: :class:`IREncoderDecoder` arguments; no auxiliary head (it would train on
            the full masks).
    """

    store_hook = 'PALHook (default_hooks.pal)'

    def crop_labels(self, data_samples, coords: Tensor, valid: Tensor) -> Tensor:
        """(B, h, w) float labels in [0, 1] of a batch, 255 on padding and inactive images.

        Raises:
            RuntimeError: no store is attached.
            KeyError: a sample has no ``stem``.
        """
        store = self._attached_store()
        rows = []
        for b, stem in enumerate(self._stems(data_samples)):
            keep = valid[b] & bool(store.active[store.position(stem)])
            rows.append(
                torch.where(
                    keep,
                    store.crop(stem, coords[b], valid[b]).float() / 255,
                    torch.full((), float(IGNORE_INDEX), device=valid.device),
                )
            )
        return torch.stack(rows)

    def label_step(self, batch: CropBatch) -> Dict[str, Tensor]:
        """Log the IoU of the labels, binarised as the loss sees them, with the true masks."""
        # the stored labels binarised as the loss sees them (> 127.5 of 255)
        labels = batch.labels
        binary = torch.where(labels == IGNORE_INDEX, labels, (labels > 0.5).float())
        stats = label_drift_stats(binary, batch.data_samples)
        self._answer_monitor(lambda: stats)
        if 'pseudo_iou' not in stats:
            return {}
        return dict(label_iou=torch.tensor(stats['pseudo_iou'], device=batch.inputs.device))
