"""Segmentor that trains a decode head from point labels, with an optional EMA teacher."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import add_prefix
from torch import Tensor

from ..decode_heads.binary_head import stack_points

TEACHER_SCOPES = ('full', 'head')


@MODELS.register_module()
class PointSupervisedSegmentor(EncoderDecoder):
    """:class:`EncoderDecoder` for single-point supervision.

    In training it hands the decode head (an :class:`AffinityPropagationHead`) the input image
    and the batch's points, and, when a teacher is attached (:class:`EMATeacherHook`), the
    teacher's embedding to build targets from.

    The full masks that the dataset carries for monitoring never reach the head: before the loss,
    every data sample is reduced to its metainfo and ``gt_points``. The masks are kept, with the
    step's targets, in :attr:`monitor_state` for :class:`DriftMonitorHook` (monitoring only).
    Inference is the parent's (whole image, plain logits).

    Args:
        monitor_student_targets (bool): when a teacher is attached, also build the targets from
            the student's embedding on steps where :attr:`monitor_request` is set, to measure
            student-teacher agreement. Defaults to True.
        **kwargs: :class:`EncoderDecoder` arguments.
    """

    def __init__(self, monitor_student_targets: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.monitor_student_targets = monitor_student_targets
        # A plain list keeps the teacher out of parameters(), state_dict() and the optimizer:
        # it is owned and checkpointed by EMATeacherHook.
        self._teacher: List[nn.Module] = []
        self.teacher_scope: Optional[str] = None
        #: Set by DriftMonitorHook before a step it wants to inspect.
        self.monitor_request: bool = False
        #: Filled on requested steps: targets, masks, points (all detached).
        self.monitor_state: Dict[str, object] = {}

    # ------------------------------------------------------------------ teacher
    @property
    def teacher(self) -> Optional[nn.Module]:
        return self._teacher[0] if self._teacher else None

    def make_teacher(self, scope: str) -> nn.Module:
        """Attach a frozen copy of the student ('full': whole segmentor; 'head': decode head)."""
        if scope not in TEACHER_SCOPES:
            raise ValueError(f'teacher scope must be one of {TEACHER_SCOPES}, got {scope!r}')
        self._teacher.clear()
        self.monitor_state = {}
        self.decode_head.last_targets = None
        source = self.decode_head if scope == 'head' else self
        teacher = copy.deepcopy(source)
        if scope == 'full':
            teacher._teacher = []  # a copy made while a teacher exists must not nest it
        teacher.requires_grad_(False)
        teacher.eval()
        self._teacher.append(teacher)
        self.teacher_scope = scope
        return teacher

    def teacher_source(self) -> nn.Module:
        """The student module the teacher mirrors."""
        return self.decode_head if self.teacher_scope == 'head' else self

    @torch.no_grad()
    def _teacher_outputs(self, inputs: Tensor, feats) -> Tuple[Optional[Tensor],
                                                                Optional[Tensor]]:
        """The teacher's embedding and logits at input size, or ``(None, None)``."""
        teacher = self.teacher
        if teacher is None:
            return None, None
        size = inputs.shape[-2:]
        if self.teacher_scope == 'head':
            return teacher.embedding_and_logits([f.detach() for f in feats], size)
        return teacher.decode_head.embedding_and_logits(teacher.extract_feat(inputs), size)

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

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        feats = self.extract_feat(inputs)
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
            teacher_logits=teacher_logits)
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
                inputs.device)
        state: Dict[str, object] = dict(
            image=inputs.detach(), points=points, targets=head.last_targets, masks=masks,
            affinity_weight=head.affinity_weight(), student_targets=None,
            negatives=getattr(head, 'last_negatives', None))
        if teacher_emb is not None and self.monitor_student_targets:
            emb = head.embedding(feats, inputs.shape[-2:])
            state['student_targets'] = head.make_targets(inputs, emb, points, data_samples)
        self.monitor_state = state
