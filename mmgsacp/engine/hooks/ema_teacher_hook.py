"""Drives the segmentor's EMA teacher (GSACP §2) through training, checkpoints and evaluation."""

from __future__ import annotations

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...models.utils.ema_teacher import LEGACY_TEACHER_KEY, legacy_teacher_state
from .utils import unwrap_model

# Options that belong to ``model.teacher`` now; named in the error for configs that still
# pass them here.
_MOVED_TO_MODEL = ('momentum', 'scope', 'begin_iter')


@HOOKS.register_module()
class EMATeacherHook(Hook):
    """Updates the model's EMA teacher after every training iteration.

    The teacher itself lives in the model (``model.teacher``, see
    :class:`~mmgsacp.models.utils.EMATeacher`) with its scope, momentum and ``begin_iter``,
    and is saved and resumed with the model's state dict. This hook:

    * calls ``model.update_teacher(runner.iter + 1)`` after each iteration, before the
      checkpoint hook saves;
    * on loading a checkpoint that kept the teacher under a top-level ``'ema_teacher'`` key,
      moves it into the state dict as ``teacher.*`` entries, so such runs resume;
    * with ``validate_with_teacher``, evaluates the teacher's weights in val/test (swapped into
      the student's modules for the loop, and back afterwards).

    Models without a teacher are left alone, so the hook can sit in a shared runtime config.

    Args:
        validate_with_teacher (bool): Validate and test with the teacher's weights.
            Defaults to False (the student).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, validate_with_teacher: bool = False, **moved) -> None:
        unknown = sorted(k for k in moved if k not in _MOVED_TO_MODEL)
        if unknown:
            raise TypeError(f'EMATeacherHook got unexpected options: {", ".join(unknown)}')
        if moved:
            hint = ''
            if isinstance(moved.get('momentum'), (int, float)):
                hint = (
                    " (momentum is now the student's weight, MMEngine's convention: the old "
                    f'{moved["momentum"]} is {1 - moved["momentum"]:.4g})'
                )
            raise TypeError(
                f'EMATeacherHook no longer takes {", ".join(sorted(moved))}: set them on the '
                f'model, model = dict(teacher=dict(scope=..., momentum=...)){hint}'
            )
        self.validate_with_teacher = validate_with_teacher

    @staticmethod
    def _teacher_model(runner):
        model = unwrap_model(runner)
        return model if getattr(model, 'teacher', None) is not None else None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = self._teacher_model(runner)
        if model is not None:
            model.update_teacher(runner.iter + 1)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        legacy = legacy_teacher_state(checkpoint)
        if not legacy:
            return
        state = checkpoint.setdefault('state_dict', {})
        for key, value in legacy.items():
            state.setdefault(key, value)
        del checkpoint[LEGACY_TEACHER_KEY]

    # -------------------------------------------------------------- validation
    def _swap(self, runner) -> None:
        if not self.validate_with_teacher:
            return
        model = self._teacher_model(runner)
        if model is None:
            runner.logger.warning(
                'EMATeacherHook: validate_with_teacher is set but the model '
                'has no teacher (model.teacher); evaluating the student'
            )
            return
        model.teacher.swap_with(model)

    def before_val_epoch(self, runner) -> None:
        self._swap(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._swap(runner)

    def before_test_epoch(self, runner) -> None:
        self._swap(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._swap(runner)
