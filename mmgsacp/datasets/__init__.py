from . import samplers, transforms  # noqa: F401
from .packed import PackedPointDataset, PackedSplitError, load_packed_split, pack_split
from .point_sirst import PointSIRSTDataset
from .points import (
    centroid_points,
    coarse_points,
    point_labels_from_mask,
    points_from_map,
    render_point_map,
)
from .samplers import ActiveSubsetSampler
from .synthetic import make_synthetic_dataset, synthesize_frame
from .transforms import *  # noqa: F403

__all__ = [
    'PointSIRSTDataset',
    'PackedPointDataset',
    'PackedSplitError',
    'load_packed_split',
    'pack_split',
    'ActiveSubsetSampler',
    'make_synthetic_dataset',
    'synthesize_frame',
    'centroid_points',
    'coarse_points',
    'points_from_map',
    'render_point_map',
    'point_labels_from_mask',
]
# the transforms' names are listed once, in transforms.__all__
__all__ += transforms.__all__
