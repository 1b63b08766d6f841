"""GSACP's decode head: binary logits, trained on targets its own features grow from points."""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmseg.registry import MODELS
from torch import Tensor

from ..pseudo_labels import RULES, PointTargets, generate_point_targets
from .binary_head import BinaryIRHead

EMBEDDING_SOURCES = ('features', 'projection')


def _warmup_pair(value: Sequence, name: str, cast: type) -> tuple:
    """``value`` as a (start, end) pair of ``cast``; a clear error for anything else."""
    try:
        start, end = value
        return cast(start), cast(end)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f'AffinityPropagationHead: {name} must be a (start, end) pair, got {value!r}'
        ) from err


@MODELS.register_module()
class AffinityPropagationHead(BinaryIRHead):
    """Binary head trained from point labels through online affinity propagation.

    Every training step, each point of the batch grows into a pseudo-mask inside its support
    window (prior gates, anchor affinity, connected growth: see
    :func:`mmgsacp.models.pseudo_labels.generate_point_targets`), and the logits are trained
    on those labels with the ignore-aware ``loss_decode`` terms. The targets are computed without
    gradient, from the teacher's embedding when the segmentor passes one (EMA teacher), else from
    this head's own (detached) embedding. Prediction is the plain logits: no points at test time.

    The affinity is measured on the representation the segmentation loss optimises: by default
    the head's own feature map (the classifier's input), L2-normalised per pixel, so it is
    trained in every configuration, with or without the contrastive loss. ``'projection'``
    (the first form) measures it on a 1x1 projection of those features, which only a
    contrastive loss reaches.

    Args:
        embed_channels (int): D of the ``'projection'`` embedding. Defaults to 16.
        embedding_source (str, optional): ``'features'`` or ``'projection'``. Defaults to
            ``'features'`` with ``target_cfg['rule'] == 'v2'`` (the default) and
            ``'projection'`` with ``'v1'``, so one config line switches the whole first form.
        target_cfg (dict): keyword arguments of ``generate_point_targets`` (``rule``,
            ``mode``, ``radius``, ``kappa``, ``beta``, ``kappa_band``, ``beta_band``,
            ``tau_pos``, ``tau_neg``, ``adaptive``, ``r_min``, ``r_max`` ...).
            ``mode='prior'`` and ``mode='point'`` give the prior-only and point-only baselines
            with the same head.
        warmup_ratio (tuple[float, float], optional): the warm-up as fractions of the run's
            ``max_iters``: the affinity weight is 0 (prior-only growth) before
            ``round(warmup_ratio[0] * max_iters)`` training steps and rises linearly to 1 at
            ``round(warmup_ratio[1] * max_iters)``, so the loop does not lock onto the
            meaningless features of early training, whatever the schedule's length.
            ``max_iters`` is read when the weight is needed, from the runtime information that
            MMEngine's ``RuntimeInfoHook`` records before training (so ``--cfg-options
            train_cfg.max_iters=N`` scales the warm-up too); used outside a Runner, with none
            recorded, the head raises an error asking for ``warmup_iters``.
        warmup_iters (tuple[int, int], optional): the same warm-up in training steps, for an
            explicit count. Give at most one of ``warmup_ratio`` and ``warmup_iters``; neither
            means no warm-up (the affinity term at full weight from the first step).
        loss_contrast (dict, optional): config of a contrastive loss on the embedding
            (``HardBackgroundContrastiveLoss``; its ``rule`` defaults to the targets' rule);
            None disables it. Its false-positive pixels are weighted as background in every
            ``loss_decode`` term.
        **kwargs: :class:`BinaryIRHead` arguments.
    """

    def __init__(
        self,
        embed_channels: int = 16,
        embedding_source: Optional[str] = None,
        target_cfg: Optional[dict] = None,
        warmup_ratio: Optional[Tuple[float, float]] = None,
        warmup_iters: Optional[Tuple[int, int]] = None,
        loss_contrast: Optional[dict] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.target_cfg = dict(target_cfg or {})
        rule = self.target_cfg.setdefault('rule', 'v2')
        if rule not in RULES:
            raise ValueError(f'target_cfg.rule must be one of {RULES}, got {rule!r}')
        if embedding_source is None:
            embedding_source = 'features' if rule == 'v2' else 'projection'
        if embedding_source not in EMBEDDING_SOURCES:
            raise ValueError(
                f'embedding_source must be one of {EMBEDDING_SOURCES}, got {embedding_source!r}'
            )
        self.embedding_source = embedding_source
        self.embed = (
            nn.Conv2d(self.channels, embed_channels, kernel_size=1)
            if embedding_source == 'projection'
            else None
        )
        if warmup_ratio is not None and warmup_iters is not None:
            raise ValueError(
                'AffinityPropagationHead: give warmup_ratio (fractions of max_iters) or '
                f'warmup_iters (steps), not both; got warmup_ratio={warmup_ratio} and '
                f'warmup_iters={warmup_iters} (set the other to None)'
            )
        self.warmup_ratio: Optional[Tuple[float, float]] = None
        self.warmup_iters: Optional[Tuple[int, int]] = None
        if warmup_ratio is not None:
            self.warmup_ratio = _warmup_pair(warmup_ratio, 'warmup_ratio', float)
            if not 0.0 <= self.warmup_ratio[0] <= self.warmup_ratio[1] <= 1.0:
                raise ValueError(
                    'AffinityPropagationHead: warmup_ratio must be (start, end) '
                    f'with 0 <= start <= end <= 1, got {warmup_ratio}'
                )
        else:
            self.warmup_iters = _warmup_pair(
                (0, 0) if warmup_iters is None else warmup_iters, 'warmup_iters', int
            )
            if not 0 <= self.warmup_iters[0] <= self.warmup_iters[1]:
                raise ValueError(
                    'AffinityPropagationHead: warmup_iters must be (start, end) '
                    f'with 0 <= start <= end, got {warmup_iters}'
                )
        if loss_contrast:
            loss_contrast = dict(loss_contrast)
            loss_contrast.setdefault('rule', rule)
        self.loss_contrast = MODELS.build(loss_contrast) if loss_contrast else None
        # Counts training steps so that warm-up survives checkpoint/resume.
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))
        # Host copy of ``num_updates`` (buffer, its version counter, value): reading the
        # buffer on every step would make the host wait for the device. The copy is re-read
        # once whenever the buffer was written from outside (load_state_dict, fill_, .to()).
        self._num_updates_host: Optional[Tuple[Tensor, int, int]] = None
        #: Targets of the last training step, kept for the drift monitor.
        self.last_targets: Optional[PointTargets] = None
        #: Negatives of the last training step (contrastive rule 'v2'), for the drift monitor.
        self.last_negatives = None

    # ------------------------------------------------------------------ features
    def _embed(self, feat: Tensor) -> Tensor:
        return feat if self.embed is None else self.embed(feat)

    def forward_train(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Logits (B, 1, h, w) and raw (unnormalised) embedding (B, D, h, w)."""
        feat = self.head_features(inputs)
        return self.cls_seg(feat), self._embed(feat)

    def embedding(self, inputs: Sequence[Tensor], size: Tuple[int, int]) -> Tensor:
        """Embedding at input resolution ``size``: (B, D, H, W).

        E is used only through cosines, and its consumers (propagation, contrastive loss)
        L2-normalise the pixels they gather, so the whole map is never normalised: the windows
        are a small fraction of the batch.
        """
        return self._at_size(self._embed(self.head_features(inputs)), size)

    def embedding_and_logits(
        self, inputs: Sequence[Tensor], size: Tuple[int, int]
    ) -> Tuple[Tensor, Tensor]:
        """Embedding (B, D, H, W) and logits (B, 1, H, W) at ``size``, from one feature pass."""
        logits, emb = self.forward_train(inputs)
        return self._at_size(emb, size), self._at_size(logits, size)

    @staticmethod
    def _at_size(emb: Tensor, size: Tuple[int, int]) -> Tensor:
        if emb.shape[-2:] != tuple(size):
            emb = F.interpolate(emb, size=size, mode='bilinear', align_corners=False)
        return emb

    def warmup_bounds(self) -> Tuple[int, int]:
        """The warm-up's (start, end) in training steps.

        ``warmup_iters`` as given, or ``warmup_ratio`` times the run's ``max_iters`` (rounded),
        read from the current :class:`~mmengine.logging.MessageHub`.

        Raises:
            RuntimeError: ``warmup_ratio`` is set and no ``max_iters`` has been recorded (the
                model runs outside an MMEngine Runner's training).
        """
        if self.warmup_ratio is None:
            return self.warmup_iters
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        if not max_iters:
            raise RuntimeError(
                f'AffinityPropagationHead: warmup_ratio={self.warmup_ratio} is a fraction of '
                "the run's max_iters, which MMEngine's RuntimeInfoHook records before training, "
                'and none is recorded (is the model trained outside a Runner?). Give the '
                'warm-up in steps instead: warmup_iters=(start, end), warmup_ratio=None'
            )
        start, end = self.warmup_ratio
        return round(start * max_iters), round(end * max_iters)

    def training_steps(self) -> int:
        """``num_updates`` as a Python int, read from the device only after an outside write."""
        buf, cached = self.num_updates, self._num_updates_host
        if cached is None or cached[0] is not buf or cached[1] != buf._version:
            cached = self._num_updates_host = (buf, buf._version, int(buf))
        return cached[2]

    def _count_step(self) -> None:
        step = self.training_steps()
        self.num_updates += 1  # stays on the device: saved and resumed with the state dict
        self._num_updates_host = (self.num_updates, self.num_updates._version, step + 1)

    # The CUDA-graph protocol (mmgsacp.models.segmentors.cuda_graph_step): a captured step
    # bakes in the affinity weight and advances the device counter only.
    def graph_key(self) -> float:
        return self.affinity_weight()

    def graph_replayed(self) -> None:
        # The replay added 1 on the device without touching the buffer's version: the host
        # mirror is still valid, one step behind.
        buf, version, step = self._num_updates_host
        self._num_updates_host = (buf, version, step + 1)

    def affinity_weight(self) -> float:
        start, end = self.warmup_bounds()
        step = self.training_steps()
        if step >= end:
            return 1.0
        if step < start:
            return 0.0
        return (step - start) / max(end - start, 1)

    # ------------------------------------------------------------------ targets
    def make_targets(
        self,
        image: Tensor,
        embedding: Optional[Tensor],
        points: Tensor,
        batch_data_samples=None,
        check_points: bool = True,
        band_evidence: Optional[Tensor] = None,
    ) -> PointTargets:
        """Pseudo-labels (no gradient) for the points of a batch.

        Args:
            image (Tensor): (B, 1, H, W) network input.
            embedding (Tensor | None): (B, D, H, W) embedding (normalised per gathered pixel).
            points (Tensor): (P, 3) long, columns (batch_index, x, y).
            batch_data_samples: only used to name the file in error messages.
            check_points (bool): validate the points on the device (training skips it: its
                points come from :func:`stack_points`, which checks them without a read-back).
            band_evidence (Tensor | None): (B, 1, H, W) detached probabilities that decide
                the outer band under ``target_cfg.band_source='prediction'``.
        """
        try:
            with torch.no_grad():
                return generate_point_targets(
                    image,
                    None if embedding is None else embedding.detach(),
                    points,
                    affinity_weight=self.affinity_weight(),
                    check_points=check_points,
                    band_evidence=band_evidence,
                    **self.target_cfg,
                )
        except ValueError as err:
            names = ''
            if batch_data_samples is not None:
                names = ', '.join(
                    f'{i}: {s.metainfo.get("img_path", "?")}'
                    for i, s in enumerate(batch_data_samples)
                )
            raise ValueError(f'{err} (batch samples: {names})') from err

    def loss(
        self,
        inputs: Sequence[Tensor],
        batch_data_samples,
        train_cfg,
        image: Optional[Tensor] = None,
        points: Optional[Tensor] = None,
        teacher_embedding: Optional[Tensor] = None,
        teacher_logits: Optional[Tensor] = None,
    ) -> Dict[str, Tensor]:
        """Losses of one training step.

        Args:
            inputs (Sequence[Tensor]): backbone/neck features.
            batch_data_samples: the data samples, *without* full masks (the segmentor strips
                them for point supervision).
            train_cfg: unused, kept for MMSeg's interface.
            image (Tensor): (B, 1, H, W) network input (for the local image priors).
            points (Tensor): (P, 3) long (batch_index, x, y), inside their images (as
                :func:`stack_points` gives them).
            teacher_embedding (Tensor, optional): (B, D, H, W) embedding from
                the EMA teacher; targets are then built from it instead of the student's.
            teacher_logits (Tensor, optional): (B, 1, H, W) logits of the EMA teacher; its
                confident clutter is what the contrastive loss pushes first (without a
                teacher, the student's detached prediction serves).
        """
        if image is None or points is None:
            raise ValueError(
                'AffinityPropagationHead.loss needs the input image and the '
                'points; use it with PointSupervisedSegmentor'
            )
        logits, raw_emb = self.forward_train(inputs)
        size = image.shape[-2:]
        emb = self._at_size(raw_emb, size)
        source = teacher_embedding if teacher_embedding is not None else emb
        hbc = self.loss_contrast
        use_v2_hbc = hbc is not None and getattr(hbc, 'rule', 'v1') == 'v2'
        prob = None
        if use_v2_hbc or self.target_cfg.get('band_source') == 'prediction':
            # The teacher's view where there is one: it is what the targets are built from.
            with torch.no_grad():
                own = teacher_logits if teacher_logits is not None else logits
                prob = torch.sigmoid(self._at_size(own.detach().float(), size))
        targets = self.make_targets(
            image,
            source,
            points.to(image.device),
            batch_data_samples,
            check_points=False,
            band_evidence=prob,
        )
        weight = None
        contrast: Dict[str, Tensor] = {}
        self.last_negatives = None
        if use_v2_hbc:
            with torch.no_grad():
                negatives = hbc.mine(emb.detach(), targets, prob)
                weight = hbc.background_weight(negatives, targets.labels)
            contrast[hbc.loss_name] = hbc(
                emb, image, targets, negatives=negatives, affinity_weight=self.affinity_weight()
            )
            self.last_negatives = negatives
        elif hbc is not None:
            contrast[hbc.loss_name] = hbc(emb, image, targets)
        losses = self.losses_from_labels(logits, targets.labels, weight)
        losses.update(contrast)
        self.last_targets = targets
        self._count_step()
        return losses
