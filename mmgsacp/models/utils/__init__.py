from .ema_teacher import TEACHER_SCOPES, EMATeacher, ema_update, legacy_teacher_state

__all__ = ['TEACHER_SCOPES', 'EMATeacher', 'ema_update', 'legacy_teacher_state']
