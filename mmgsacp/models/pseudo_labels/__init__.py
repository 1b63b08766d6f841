"""Point-to-mask target generation: windows, prior gates, growth, the label rule, negatives."""
from .label_rule import (
                         AFFINITY_SCALES,
                         BAND_SOURCES,
                         MODES,
                         RULES,
                         PointTargets,
                         anchor_affinity,
                         contrast_gates,
                         core_and_band,
                         generate_point_targets,
                         region_area,
                         ring_scaled_affinity,
                         threshold_labels,
                         touches_support_edge,
                         two_level_labels,
                         window_of,
)
from .negatives import exclusion_zone, false_positive_pixels, far_from_points, point_map
from .propagation import (
                         BACKGROUND,
                         IGNORE_INDEX,
                         TARGET,
                         adaptive_half_sizes,
                         center_seed,
                         dilate3x3,
                         gather_windows,
                         point_peak,
                         prior_gate,
                         propagate,
                         propagate_until_stable,
                         ring_mask,
                         ring_statistics,
                         scatter_targets,
                         support_mask,
                         validate_points,
                         window_anchor,
                         window_offsets,
                         window_pixels,
)

__all__ = [
    'MODES', 'RULES', 'AFFINITY_SCALES', 'BAND_SOURCES', 'PointTargets', 'ring_scaled_affinity',
    'anchor_affinity', 'contrast_gates', 'core_and_band',
    'generate_point_targets', 'region_area', 'threshold_labels', 'touches_support_edge',
    'two_level_labels', 'window_of', 'exclusion_zone', 'far_from_points',
    'false_positive_pixels', 'point_map', 'BACKGROUND', 'IGNORE_INDEX', 'TARGET',
    'adaptive_half_sizes', 'center_seed', 'dilate3x3', 'gather_windows', 'point_peak',
    'prior_gate', 'propagate', 'propagate_until_stable', 'ring_mask', 'ring_statistics',
    'scatter_targets', 'support_mask', 'validate_points', 'window_anchor', 'window_offsets',
    'window_pixels'
]
