"""Segmentor that trains a decode head from point labels, with an optional EMA teacher."""

from __future__ import annotations

import logging
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import add_prefix
from torch import Tensor

from ..decode_heads.binary_head import stack_points
from ..utils.ema_teacher import EMATeacher  # noqa: F401  (registers the default teacher)
from .ir_encoder_decoder import IREncoderDecoder


@MODELS.register_module()
class PointSupervisedSegmentor(IREncoderDecoder):
    """:class:`IREncoderDecoder` for single-point supervision.

    In training it hands the decode head (an :class:`AffinityPropagationHead`) the input image
    and the batch's points, and, when the model has a teacher, the teacher's embedding to build
    targets from.

    The teacher (``model.teacher`` in the config) is a submodule, :class:`EMATeacher`: frozen,
    in eval mode, saved and resumed with the state dict under ``teacher.*``, and moved towards
    the student by :meth:`update_teacher`, which :class:`EMATeacherHook` calls after every
    training iteration.

    The full masks that the dataset carries for monitoring never reach the head: before the loss,
    every data sample is reduced to its metainfo and ``gt_points``. The masks are kept, with the
    step's targets, in :attr:`monitor_state` for :class:`DriftMonitorHook` (monitoring only).
    Inference is the parent's (whole image, or sliding windows on large frames; plain
    logits).

    Args:
        monitor_student_targets (bool): when a teacher is attached, also build the targets from
            the student's embedding on steps where :attr:`monitor_request` is set, to measure
            student-teacher agreement. Defaults to True.
        teacher (dict, optional): :class:`EMATeacher` config without its modules, e.g.
            ``dict(scope='full', momentum=0.01, begin_iter=0)`` (``type`` defaults to
            ``'EMATeacher'``). None (default): targets come from the student's own embedding.
        **kwargs: :class:`IREncoderDecoder` arguments.
    """

    def __init__(
        self, monitor_student_targets: bool = True, teacher: Optional[dict] = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.monitor_student_targets = monitor_student_targets
        self.teacher: Optional[nn.Module] = None
        if teacher is not None:
            teacher = dict(teacher)
            teacher.setdefault('type', 'EMATeacher')
            teacher.update(
                backbone=self.backbone,
                decode_head=self.decode_head,
                neck=self.neck if self.with_neck else None,
            )
            self.teacher = MODELS.build(teacher)
        #: Set by DriftMonitorHook before a step it wants to inspect.
        self.monitor_request: bool = False
        #: Filled on requested steps: targets, masks, points (all detached).
        self.monitor_state: Dict[str, object] = {}

    # ------------------------------------------------------------------ teacher
    @property
    def teacher_scope(self) -> Optional[str]:
        """``'full'`` or ``'head'``; None without a teacher."""
        return None if self.teacher is None else self.teacher.scope

    def update_teacher(self, done_iters: int) -> None:
        """One EMA step of the teacher towards the student, after an optimizer step.

        Called by :class:`EMATeacherHook` after every training iteration.

        Args:
            done_iters (int): Training iterations completed, the last one included.
        """
        if self.teacher is None:
            raise RuntimeError(
                'update_teacher: this segmentor has no teacher (set model.teacher in the config)'
            )
        self.teacher.update(self, done_iters)

    def init_weights(self) -> None:
        super().init_weights()
        if self.teacher is not None:  # the student was just re-initialised: start equal
            self.teacher.copy_from(self)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Reconcile the checkpoint's teacher entries with this model's teacher.

        Without a teacher, ``teacher.*`` entries are dropped (test-time models need none).
        With one, entries of modules the configured scope lacks are dropped, and those the
        checkpoint lacks (a checkpoint without a teacher, or of the other scope) are taken
        from the checkpoint's student, so the teacher starts from the loaded weights.
        """
        t_prefix = prefix + 'teacher.'
        if self.teacher is None:
            for key in [k for k in state_dict if k.startswith(t_prefix)]:
                del state_dict[key]
        else:
            own = self.teacher.state_dict()
            dropped = [
                k for k in state_dict if k.startswith(t_prefix) and k[len(t_prefix) :] not in own
            ]
            for key in dropped:
                del state_dict[key]
            filled = []
            for name in own:
                if t_prefix + name not in state_dict and prefix + name in state_dict:
                    state_dict[t_prefix + name] = state_dict[prefix + name]
                    filled.append(name)
            if dropped or (filled and len(filled) < len(own)):
                print_log(
                    f'checkpoint teacher does not match model.teacher (scope '
                    f'{self.teacher.scope!r}): {len(dropped)} entries ignored, {len(filled)} '
                    'taken from the student',
                    logger='current',
                    level=logging.WARNING,
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def _teacher_outputs(self, inputs: Tensor, feats) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """The teacher's embedding and logits at input size, or ``(None, None)``."""
        if self.teacher is None:
            return None, None
        return self.teacher.embedding_and_logits(inputs, feats)

    # ------------------------------------------------------------------ training
    @staticmethod
    def _head_view(data_samples) -> List[SegDataSample]:
        """Data samples reduced to metainfo and points: the head cannot read full masks."""
        views = []
        for sample in data_samples:
            view = SegDataSample(metainfo=sample.metainfo)
            if 'gt_points' in sample:
                view.gt_points = sample.gt_points
            views.append(view)
        return views

    # The points are stacked outside a CUDA graph: their count per sample varies from batch to
    # batch, their total far less, so graphs are keyed on the (P, 3) stack only.
    def graph_extras(self, data_samples) -> Dict[str, Tensor]:
        device = self.data_preprocessor.device
        return dict(points=stack_points(data_samples).to(device, non_blocking=True))

    def graph_state_key(self):
        if self.monitor_request:  # the drift monitor's step reads state a replay would not set
            return None
        return super().graph_state_key()

    def loss(
        self, inputs: Tensor, data_samples, points: Optional[Tensor] = None
    ) -> Dict[str, Tensor]:
        """The decode head's losses; ``points``: the batch's (P, 3) points as
        :func:`stack_points` gives them (stacked from ``data_samples`` when None)."""
        feats = self.extract_feat(inputs)
        if points is None:
            points = stack_points(data_samples).to(inputs.device)
        teacher_emb, teacher_logits = self._teacher_outputs(inputs, feats)
        head = self.decode_head
        losses = head.loss(
            feats,
            self._head_view(data_samples),
            self.train_cfg,
            image=inputs,
            points=points,
            teacher_embedding=teacher_emb,
            teacher_logits=teacher_logits,
        )
        losses = add_prefix(losses, 'decode')
        if self.monitor_request:
            self._fill_monitor_state(inputs, feats, data_samples, points, teacher_emb)
            self.monitor_request = False
        return losses

    @torch.no_grad()
    def _fill_monitor_state(self, inputs, feats, data_samples, points, teacher_emb) -> None:
        head = self.decode_head
        masks = None
        if all('gt_sem_seg' in s for s in data_samples):
            masks = torch.stack([s.gt_sem_seg.data.squeeze(0) for s in data_samples]).to(
                inputs.device
            )
        state: Dict[str, object] = dict(
            image=inputs.detach(),
            points=points,
            targets=head.last_targets,
            masks=masks,
            affinity_weight=head.affinity_weight(),
            student_targets=None,
            negatives=getattr(head, 'last_negatives', None),
        )
        if teacher_emb is not None and self.monitor_student_targets:
            emb, logits = head.embedding_and_logits(feats, inputs.shape[-2:])
            state['student_targets'] = head.make_targets(
                inputs, emb, points, data_samples, band_evidence=torch.sigmoid(logits.float())
            )
        self.monitor_state = state
