from .ema_teacher import TEACHER_SCOPES, EMATeacher, ema_update, legacy_teacher_state
from .propagation import (IGNORE_INDEX, PointTargets, adaptive_half_sizes, gather_windows,
                          generate_point_targets, prior_gate, propagate, region_area,
                          scatter_targets, touches_support_edge, validate_points, window_anchor,
                          window_of)

__all__ = [
    'TEACHER_SCOPES', 'EMATeacher', 'ema_update', 'legacy_teacher_state',
    'IGNORE_INDEX', 'PointTargets', 'adaptive_half_sizes', 'gather_windows',
    'generate_point_targets', 'prior_gate', 'propagate', 'region_area', 'scatter_targets',
    'touches_support_edge', 'validate_points', 'window_anchor', 'window_of'
]
