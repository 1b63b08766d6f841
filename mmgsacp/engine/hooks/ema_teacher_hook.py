"""Local EMA teacher decoupling (GSACP §2): targets come from a slow copy of the model."""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...models.segmentors.point_segmentor import TEACHER_SCOPES
from .utils import unwrap_model


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, momentum: float) -> None:
    """teacher <- momentum * teacher + (1 - momentum) * student, for parameters and float buffers.

    Integer buffers (BatchNorm's step counters, the head's update counter) are copied.
    """
    t_state = teacher.state_dict()
    for name, s_val in student.state_dict().items():
        if name not in t_state or name.startswith('_teacher'):
            continue
        t_val = t_state[name]
        if t_val.dtype.is_floating_point:
            t_val.mul_(momentum).add_(s_val.detach(), alpha=1.0 - momentum)
        else:
            t_val.copy_(s_val)


@HOOKS.register_module()
class EMATeacherHook(Hook):
    """Keeps an exponential-moving-average teacher of a :class:`PointSupervisedSegmentor`.

    The teacher is created before training (a frozen copy of the whole model, ``scope='full'``,
    or of its decode head, ``scope='head'``), updated after every iteration, saved in checkpoints
    under ``'ema_teacher'`` and restored on resume / ``load_from``, so a resumed run continues
    with the same teacher. Validation and test use the student unless ``validate_with_teacher``.

    Args:
        momentum (float): weight of the old teacher in each update, in [0, 1). Defaults to 0.99.
        scope (str): 'full' or 'head'. Defaults to 'head'.
        begin_iter (int): before this iteration the teacher copies the student exactly
            (momentum 0), so it does not average in the random initialisation. Defaults to 0.
        validate_with_teacher (bool): swap the teacher's weights in for val/test.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, momentum: float = 0.99, scope: str = 'head', begin_iter: int = 0,
                 validate_with_teacher: bool = False) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'EMATeacherHook: momentum must be in [0, 1), got {momentum}')
        if scope not in TEACHER_SCOPES:
            raise ValueError(f'EMATeacherHook: scope must be one of {TEACHER_SCOPES}, got {scope!r}')
        self.momentum = momentum
        self.scope = scope
        self.begin_iter = begin_iter
        self.validate_with_teacher = validate_with_teacher
        self._pending_state: Optional[dict] = None

    def _ensure_teacher(self, runner) -> torch.nn.Module:
        model = unwrap_model(runner)
        if not hasattr(model, 'make_teacher'):
            raise TypeError('EMATeacherHook needs a PointSupervisedSegmentor, got '
                            f'{type(model).__name__}')
        if model.teacher is None or model.teacher_scope != self.scope:
            model.make_teacher(self.scope)
        if self._pending_state is not None:
            model.teacher.load_state_dict(self._pending_state)
            self._pending_state = None
        return model.teacher

    def before_train(self, runner) -> None:
        self._ensure_teacher(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = unwrap_model(runner)
        momentum = self.momentum if runner.iter + 1 > self.begin_iter else 0.0
        ema_update(self._ensure_teacher(runner), model.teacher_source(), momentum)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = unwrap_model(runner)
        if model.teacher is not None:
            checkpoint['ema_teacher'] = model.teacher.state_dict()
            checkpoint.setdefault('meta', {})['ema_teacher_scope'] = self.scope

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('ema_teacher')
        if state is None:
            return
        saved_scope = checkpoint.get('meta', {}).get('ema_teacher_scope', self.scope)
        if saved_scope != self.scope:
            runner.logger.warning(
                f'EMATeacherHook: checkpoint teacher has scope {saved_scope!r}, config asks '
                f'{self.scope!r}; starting a fresh teacher from the loaded student')
            return
        self._pending_state = state
        if unwrap_model(runner).teacher is not None:
            self._ensure_teacher(runner)

    # -------------------------------------------------------------- validation
    def _swap(self, runner) -> None:
        model = unwrap_model(runner)
        if model.teacher is None and self._pending_state is not None:
            self._ensure_teacher(runner)  # test time: the teacher comes from the checkpoint
        if model.teacher is None:
            return
        student = model.teacher_source()
        s_params = dict(student.named_parameters())
        for name, t_param in model.teacher.named_parameters():
            s_param = s_params[name]
            tmp = s_param.data.clone()
            s_param.data.copy_(t_param.data)
            t_param.data.copy_(tmp)
        s_bufs = dict(student.named_buffers())
        for name, t_buf in model.teacher.named_buffers():
            if name in s_bufs:
                tmp = s_bufs[name].clone()
                s_bufs[name].copy_(t_buf)
                t_buf.copy_(tmp)

    def before_val_epoch(self, runner) -> None:
        if self.validate_with_teacher:
            self._swap(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.validate_with_teacher:
            self._swap(runner)

    def before_test_epoch(self, runner) -> None:
        if self.validate_with_teacher:
            self._swap(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.validate_with_teacher:
            self._swap(runner)
