"""Exponential-moving-average teacher kept inside a segmentor (GSACP §2).

The teacher is a frozen copy of the student's modules that follows it slowly. Momentum follows
MMEngine's :class:`~mmengine.model.ExponentialMovingAverage`: it is the weight of the *new*
(student) value, ``averaged = (1 - momentum) * averaged + momentum * student``.
"""

from __future__ import annotations

import copy
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

TEACHER_SCOPES = ('full', 'head')
#: Checkpoint key under which earlier versions saved the teacher's state outside the model.
LEGACY_TEACHER_KEY = 'ema_teacher'
#: Checkpoint ``meta`` key that recorded that teacher's scope.
LEGACY_SCOPE_KEY = 'ema_teacher_scope'


def check_momentum(momentum: float) -> float:
    """``momentum`` as a float, or a ValueError naming the option and the convention."""
    momentum = float(momentum)
    if not 0.0 < momentum <= 1.0:
        raise ValueError(
            f'model.teacher.momentum must be in (0, 1] (weight of the student in each update, '
            f"MMEngine's convention; 0.01 keeps 99% of the teacher), got {momentum}"
        )
    return momentum


@torch.no_grad()
def ema_update(averaged: nn.Module, source: nn.Module, momentum: float) -> None:
    """``averaged <- (1 - momentum) * averaged + momentum * source``, in place.

    Parameters and floating-point buffers (BatchNorm statistics) are averaged; integer buffers
    (BatchNorm's batch counter, the head's step counter) are copied, as averaging counts is
    meaningless. ``momentum=1`` makes ``averaged`` an exact copy of ``source``.

    Args:
        averaged (nn.Module): The module updated in place (the teacher).
        source (nn.Module): A module with the same state-dict keys (the student).
        momentum (float): Weight of ``source``, in (0, 1].

    Raises:
        KeyError: ``averaged`` has a state entry that ``source`` lacks.
    """
    momentum = check_momentum(momentum)
    src = source.state_dict()
    for name, avg in averaged.state_dict().items():
        if name not in src:
            raise KeyError(f'ema_update: source module has no state entry {name!r}')
        value = src[name]
        if avg.dtype.is_floating_point and momentum < 1.0:
            avg.lerp_(value.to(avg.dtype), momentum)
        else:
            avg.copy_(value)


def params_to_buffers(module: nn.Module) -> nn.Module:
    """Turn every parameter of ``module`` and its children into a buffer of the same name.

    Forward passes and state-dict keys are unchanged, but the tensors leave ``parameters()``,
    so optimizers (MMEngine's constructor hands them ``model.parameters()``), gradient
    clipping and DDP's reducer never see them. Unset parameters (``bias=None``) stay as they are.
    """
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is None:
                continue
            del sub._parameters[name]
            sub.register_buffer(name, param.detach())
    return module


@MODELS.register_module()
class EMATeacher(nn.Module):
    """Frozen EMA copy of a segmentor's backbone (+ neck) and decode head, or of its head only.

    Its children carry the student's attribute names (``backbone``, ``neck``, ``decode_head``),
    so its state-dict keys are the student's with a ``teacher.`` prefix when the segmentor holds
    it as ``self.teacher``. Its weights are buffers, not parameters (see
    :func:`params_to_buffers`): they get no gradient and are not in the optimizer, so adding,
    dropping or re-scoping a teacher never changes the optimizer's parameter groups and a
    checkpoint's optimizer state still resumes. It stays in eval mode whatever ``train()``
    asks: BatchNorm uses the averaged statistics and dropout is off.

    Args:
        backbone (nn.Module): The student's backbone (copied when ``scope='full'``).
        decode_head (nn.Module): The student's decode head (always copied).
        neck (nn.Module, optional): The student's neck (copied when ``scope='full'``).
        scope (str): ``'full'``: the teacher has its own backbone and sees the image;
            ``'head'``: only the head is copied and it reads the student's features, detached.
            Defaults to ``'full'``.
        momentum (float): Weight of the student in each update, in (0, 1]. Defaults to 0.01.
        begin_iter (int): Until this many training iterations are done the teacher copies the
            student exactly, so it does not average in the random start. Defaults to 0.
    """

    def __init__(
        self,
        backbone: nn.Module,
        decode_head: nn.Module,
        neck: Optional[nn.Module] = None,
        scope: str = 'full',
        momentum: float = 0.01,
        begin_iter: int = 0,
    ) -> None:
        super().__init__()
        if scope not in TEACHER_SCOPES:
            raise ValueError(f'model.teacher.scope must be one of {TEACHER_SCOPES}, got {scope!r}')
        if int(begin_iter) < 0:
            raise ValueError(f'model.teacher.begin_iter must be >= 0, got {begin_iter}')
        self.scope = scope
        self.momentum = check_momentum(momentum)
        self.begin_iter = int(begin_iter)
        if scope == 'full':
            self.backbone = copy.deepcopy(backbone)
            if neck is not None:
                self.neck = copy.deepcopy(neck)
        self.decode_head = copy.deepcopy(decode_head)
        params_to_buffers(self)
        self.train(False)

    #: Outside the CUDA-graph protocol of training steps (cuda_graph_step): the teacher's
    #: copies of the student's modules run none of the step's Python of their own.
    graph_ignore = True

    def train(self, mode: bool = True) -> 'EMATeacher':
        """Always eval: the teacher's BatchNorm must not take batch statistics."""
        return super().train(False)

    @torch.no_grad()
    def update(self, student: nn.Module, done_iters: int) -> None:
        """One EMA step towards ``student`` (the segmentor holding this teacher).

        Args:
            student (nn.Module): Has the same-named children as this teacher.
            done_iters (int): Training iterations completed, the one just finished included
                (the runner's ``iter + 1``). Up to ``begin_iter`` the student is copied.
        """
        momentum = 1.0 if done_iters <= self.begin_iter else self.momentum
        for name, child in self.named_children():
            ema_update(child, getattr(student, name), momentum)

    @torch.no_grad()
    def copy_from(self, student: nn.Module) -> None:
        """Make the teacher an exact copy of ``student``'s mirrored modules."""
        for name, child in self.named_children():
            ema_update(child, getattr(student, name), 1.0)

    @torch.no_grad()
    def swap_with(self, student: nn.Module) -> None:
        """Exchange weights with ``student``'s mirrored modules (evaluate the teacher in place).

        Calling it twice restores both.
        """
        for name, child in self.named_children():
            src = getattr(student, name).state_dict()
            for key, value in child.state_dict().items():
                held = value.clone()
                value.copy_(src[key])
                src[key].copy_(held)

    def _features(self, inputs: Tensor, student_feats: Sequence[Tensor]) -> Sequence[Tensor]:
        if self.scope == 'head':
            return [f.detach() for f in student_feats]
        feats = self.backbone(inputs)
        if hasattr(self, 'neck'):
            feats = self.neck(feats)
        return feats

    @torch.no_grad()
    def embedding(self, inputs: Tensor, student_feats: Sequence[Tensor]) -> Tensor:
        """The teacher's embedding at input resolution.

        Args:
            inputs (Tensor): (B, C, H, W) network input.
            student_feats (Sequence[Tensor]): The student's backbone/neck features of
                ``inputs``; used (detached) by ``scope='head'`` only.

        Returns:
            Tensor: (B, D, H, W) embedding (not normalised).
        """
        return self.decode_head.embedding(self._features(inputs, student_feats), inputs.shape[-2:])

    @torch.no_grad()
    def embedding_and_logits(
        self, inputs: Tensor, student_feats: Sequence[Tensor]
    ) -> Tuple[Tensor, Tensor]:
        """The teacher's embedding (B, D, H, W) and logits (B, 1, H, W) at input resolution,
        from one pass of its head (see :meth:`embedding` for the arguments)."""
        return self.decode_head.embedding_and_logits(
            self._features(inputs, student_feats), inputs.shape[-2:]
        )


def legacy_teacher_state(checkpoint: dict) -> Dict[str, Tensor]:
    """The teacher of a checkpoint that saved it under a top-level ``'ema_teacher'`` key, as
    ``teacher.*`` state-dict entries of :class:`PointSupervisedSegmentor`.

    Such checkpoints held the teacher's own state dict: the whole segmentor's for scope
    ``'full'`` (recorded in ``meta['ema_teacher_scope']``), the decode head's for ``'head'``.

    Args:
        checkpoint (dict): A loaded checkpoint.

    Returns:
        dict: ``'teacher.<module>.<name>'`` to tensor; empty when there is no such key.
    """
    state = checkpoint.get(LEGACY_TEACHER_KEY)
    if not state:
        return {}
    scope = checkpoint.get('meta', {}).get(LEGACY_SCOPE_KEY, 'head')
    if scope == 'head':
        return {f'teacher.decode_head.{k}': v for k, v in state.items()}
    mirrored = ('backbone.', 'neck.', 'decode_head.')
    return {f'teacher.{k}': v for k, v in state.items() if k.startswith(mirrored)}
