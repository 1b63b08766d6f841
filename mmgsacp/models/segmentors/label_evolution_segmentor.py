"""LESPS baseline: a plain binary head trained on labels that evolve from the points."""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..pseudo_labels import IGNORE_INDEX
from ..utils.label_evolution import (
    AREA_RATIO,
    FG_THRESHOLD,
    PatchLabelStore,
    crop_to_patches,
    evolve_patches,
    patches_to_crop,
)
from .label_store_segmentor import CropBatch, LabelStoreSegmentor

AREA_REFS = ('image', 'crop')


class LabelAgreement(NamedTuple):
    """Pixel counts of a batch's labels against the true masks (padding and ignored pixels
    left out); every field a 0-dim tensor."""

    inter: Tensor  #: pseudo-mask AND true mask
    union: Tensor  #: pseudo-mask OR true mask
    soft_inter: Tensor  #: sum of min(label, true mask)
    soft_union: Tensor  #: sum of max(label, true mask)
    pseudo_area: Tensor  #: pseudo-mask pixels
    true_area: Tensor  #: true target pixels


@torch.no_grad()
def label_agreement(
    labels: Tensor, data_samples, fg_threshold: float = FG_THRESHOLD
) -> Optional[LabelAgreement]:
    """How far a batch's training labels agree with the true masks (monitoring only).

    Args:
        labels (Tensor): (B, h, w) training labels (soft in [0, 1] or 0/1), 255 on padding.
        data_samples (list[SegDataSample]): With ``gt_sem_seg`` (true masks).
        fg_threshold (float): Labels at or above this are pseudo-mask pixels.

    Returns:
        LabelAgreement or None: None when a sample has no true mask.
    """
    if not all('gt_sem_seg' in s for s in data_samples):
        return None
    masks = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).to(labels.device)
    h, w = min(masks.shape[-2], labels.shape[-2]), min(masks.shape[-1], labels.shape[-1])
    masks, labels = masks[:, :h, :w], labels[:, :h, :w]
    keep = (masks != IGNORE_INDEX) & (labels != IGNORE_INDEX)
    pseudo, truth = (labels >= fg_threshold) & keep, (masks == 1) & keep
    soft = torch.where(keep, labels.float(), torch.zeros((), device=labels.device))
    hard = truth.float()
    return LabelAgreement(
        inter=(pseudo & truth).sum(),
        union=(pseudo | truth).sum(),
        soft_inter=torch.minimum(soft, hard).sum(),
        soft_union=torch.maximum(soft, hard).sum(),
        pseudo_area=pseudo.sum(),
        true_area=truth.sum(),
    )


def label_drift_stats(
    labels: Tensor, data_samples, fg_threshold: float = FG_THRESHOLD
) -> Dict[str, float]:
    """The drift monitor's figures for stored labels of a batch (monitoring only).

    Args:
        labels (Tensor): (B, h, w) training labels (soft in [0, 1] or 0/1), 255 on padding.
        data_samples (list[SegDataSample]): With ``gt_sem_seg`` (true masks).
        fg_threshold (float): Labels at or above this are pseudo-mask pixels.

    Returns:
        dict: ``pseudo_iou`` (pseudo-mask vs true mask over the batch), ``soft_iou`` (soft
        Jaccard), ``area_ratio`` (pseudo / true target pixels); empty without true masks.
    """
    agree = label_agreement(labels, data_samples, fg_threshold)
    if agree is None:
        return {}
    union, soft_union = int(agree.union), float(agree.soft_union)
    return dict(
        pseudo_iou=float(agree.inter) / union if union else 1.0,
        soft_iou=float(agree.soft_inter) / soft_union if soft_union > 0 else 1.0,
        area_ratio=float(agree.pseudo_area) / max(int(agree.true_area), 1),
    )


@MODELS.register_module()
class LabelEvolutionSegmentor(LabelStoreSegmentor):
    """:class:`LabelStoreSegmentor` trained on LESPS's evolving labels (online, on training crops).

    The labels live in a :class:`PatchLabelStore` owned by :class:`LabelEvolutionHook`, which
    attaches it (:meth:`attach_label_store`) and sets :attr:`evolve_request` on the iterations
    of update epochs. Each training sample must carry ``pixel_coords`` (the original (x, y) of
    every crop pixel, from ``LoadPixelCoordinates`` + ``PackIRInputsWithCoords``) and its
    ``stem``.

    In :meth:`loss`, each crop's label map is rendered from its image's patches through the
    coordinates. With ``soft_labels=True`` (default, as LESPS trains) the head's losses take the
    soft values themselves as target probabilities, so a pixel reached by an update at
    ``pred / 2`` already pulls the prediction up; with ``soft_labels=False`` they are binarised
    at 0.5 (a pixel then becomes a hard target only once its evolved value reaches 0.5, which
    from point labels needs predictions near 1). Padding is ignored (255). On update steps the
    detached sigmoid prediction is mapped back onto the patches of the points the crop holds,
    and :func:`evolve_patches` gives their new labels (staged in the store, written by the
    hook after the step).

    The full mask (``gt_sem_seg``) is read only to log ``label_iou`` (labels binarised at 0.5
    vs true masks on the crop) and ``label_soft_iou`` (the soft Jaccard of the labels the loss
    trains on), for monitoring; it never reaches the loss. Inference is the parent's (whole,
    or sliding windows on large frames).

    Args:
        evolve_cfg (dict, optional): Rule parameters: ``tb`` (0.5), ``k`` (0.5), ``size``
            (neighbourhood side, 33), ``area_ratio`` (0.0015) and ``area_ref``: the ``H * W`` in
            the threshold is the original image's (``'image'``, default) or the training
            crop's (``'crop'``).
        soft_labels (bool): Train on the soft labels (True) or on labels binarised at 0.5.
            Defaults to True.
        **kwargs: :class:`IREncoderDecoder` arguments; a plain :class:`BinaryIRHead` as decode
            head, no auxiliary head.
    """

    store_hook = 'LabelEvolutionHook (default_hooks.label_evolution)'

    def __init__(
        self, evolve_cfg: Optional[dict] = None, soft_labels: bool = True, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        cfg = dict(tb=0.5, k=0.5, size=33, area_ratio=AREA_RATIO, area_ref='image')
        unknown = set(evolve_cfg or {}) - set(cfg)
        if unknown:
            raise ValueError(f'unknown evolve_cfg keys {sorted(unknown)}; known: {sorted(cfg)}')
        cfg.update(evolve_cfg or {})
        if cfg['area_ref'] not in AREA_REFS:
            raise ValueError(
                f'evolve_cfg.area_ref must be one of {AREA_REFS}, got {cfg["area_ref"]!r}'
            )
        if int(cfg['size']) % 2 != 1:
            raise ValueError(f'evolve_cfg.size must be odd, got {cfg["size"]}')
        self.evolve_cfg = cfg
        self.soft_labels = bool(soft_labels)
        #: Set by LabelEvolutionHook before each training step: evolve labels on this step.
        self.evolve_request: bool = False

    # ---------------------------------------------------------------- label store
    def attach_label_store(self, store: PatchLabelStore) -> None:
        """Use ``store`` for training targets and updates."""
        if store.patch_size < int(self.evolve_cfg['size']):
            raise ValueError(
                f'label patches ({store.patch_size} px) must hold the '
                f'{self.evolve_cfg["size"]} px neighbourhood'
            )
        super().attach_label_store(store)

    # ---------------------------------------------------------------- training
    def _sample_rows(self, data_samples) -> List[Tensor]:
        store = self._attached_store()
        return [store.rows(stem) for stem in self._stems(data_samples)]

    def crop_labels(self, data_samples, coords: Tensor, valid: Tensor) -> Tensor:
        """Training labels of a batch from the stored patches (never from full masks).

        Args:
            data_samples (list[SegDataSample]): With ``stem`` metainfo.
            coords (Tensor): (B, h, w, 2) long original (x, y) per pixel.
            valid (Tensor): (B, h, w) bool.

        Returns:
            Tensor: (B, h, w), 255 on padding; elsewhere the float soft labels in [0, 1] with
            ``soft_labels``, else long 1 where the soft label is ``>= 0.5`` and 0 below.
        """
        store = self.label_store
        soft = torch.stack(
            [
                patches_to_crop(
                    store.patches[r].to(coords.device),
                    store.points[r].to(coords.device),
                    coords[b],
                    valid[b],
                )
                for b, r in enumerate(self._sample_rows(data_samples))
            ]
        )
        labels = soft if self.soft_labels else (soft >= FG_THRESHOLD).long()
        return labels.masked_fill(~valid, IGNORE_INDEX)

    @torch.no_grad()
    def evolve(self, probs: Tensor, data_samples, coords: Tensor, valid: Tensor) -> int:
        """Stage the LESPS update of every point the batch's crops hold.

        A point is updated when its own pixel is in the crop; its neighbourhood is what the
        crop shows of it (the rest counts as unobserved).

        Args:
            probs (Tensor): (B, h, w) detached probabilities.
            data_samples (list[SegDataSample]): With ``stem`` and ``ori_shape`` metainfo.
            coords (Tensor): (B, h, w, 2) long original (x, y).
            valid (Tensor): (B, h, w) bool.

        Returns:
            int: Number of points staged.
        """
        store = self.label_store
        cfg = self.evolve_cfg
        s = store.patch_size
        c = s // 2
        rows, preds, observed, areas = [], [], [], []
        for b, r in enumerate(self._sample_rows(data_samples)):
            if r.numel() == 0:
                continue
            pred, seen = crop_to_patches(
                probs[b].float(), coords[b], valid[b], store.points[r].to(coords.device), s
            )
            held = seen[:, c, c]
            if not held.any():
                continue
            if cfg['area_ref'] == 'image':
                h, w = data_samples[b].metainfo['ori_shape'][:2]
            else:
                h, w = valid.shape[-2:]
            rows.append(r[held.cpu()])
            preds.append(pred[held])
            observed.append(seen[held])
            areas.append(torch.full((int(held.sum()),), float(h * w), device=probs.device))
        if not rows:
            return 0
        rows_t = torch.cat(rows)
        new = evolve_patches(
            store.patches[rows_t].to(probs.device),
            torch.cat(preds),
            torch.cat(observed),
            store.anchors[rows_t].to(probs.device),
            torch.cat(areas),
            tb=cfg['tb'],
            k=cfg['k'],
            size=int(cfg['size']),
            area_ratio=cfg['area_ratio'],
        )
        store.stage(rows_t, new)
        return int(rows_t.numel())

    def label_step(self, batch: CropBatch) -> Dict[str, Tensor]:
        """Evolve the labels on update steps; log their IoU with the true masks."""
        labels, data_samples = batch.labels, batch.data_samples
        if self.evolve_request:
            full = F.interpolate(
                batch.logits.detach(),
                size=batch.inputs.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners,
            )
            probs = torch.sigmoid(full[:, 0])
            # a non-finite step must not write into the labels (InvalidLossGuardHook stops it)
            if torch.isfinite(probs).all():
                self.evolve(probs, data_samples, batch.coords, batch.valid)
        label_stats = self._label_iou(labels, data_samples)
        self._answer_monitor(lambda: label_drift_stats(labels, data_samples))
        return label_stats

    @staticmethod
    def _label_iou(labels: Tensor, data_samples) -> Dict[str, Tensor]:
        """Monitoring only: the batch's labels against the true masks, binarised at 0.5
        (``label_iou``) and soft (``label_soft_iou``, ``sum min / sum max``); empty without
        true masks."""
        agree = label_agreement(labels, data_samples)
        if agree is None:
            return {}
        iou = agree.inter.float() / agree.union if agree.union else torch.ones(())
        soft_iou = agree.soft_inter / agree.soft_union if agree.soft_union > 0 else torch.ones(())
        return dict(
            label_iou=iou.float().to(labels.device),
            label_soft_iou=soft_iou.float().to(labels.device),
        )
