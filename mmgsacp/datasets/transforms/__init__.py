from .coordinates import LoadPixelCoordinates, PackIRInputsWithCoords, split_pixel_coords
from .formatting import PackIRInputs, PackSampleIndex
from .loading import LoadIRAnnotations, LoadIRImageFromFile, bgr_to_luma
from .transforms import (
    RandomFlipIR,
    RandomRot90,
    RandomTranspose,
    TargetAwareRandomCrop,
    cuts_near_points,
    flip_points,
    rot90_points,
)

__all__ = [
    'LoadIRImageFromFile',
    'LoadIRAnnotations',
    'TargetAwareRandomCrop',
    'RandomFlipIR',
    'RandomTranspose',
    'RandomRot90',
    'PackIRInputs',
    'bgr_to_luma',
    'flip_points',
    'rot90_points',
    'LoadPixelCoordinates',
    'PackIRInputsWithCoords',
    'split_pixel_coords',
    'cuts_near_points',
    'PackSampleIndex',
]
