from .batch_augment import BatchDraws, batch_point_rows, draw_windows, gather_crops, move_points
from .packed_point_preprocessor import PackedPointDataPreProcessor

__all__ = [
    'PackedPointDataPreProcessor',
    'BatchDraws',
    'batch_point_rows',
    'draw_windows',
    'gather_crops',
    'move_points',
]
