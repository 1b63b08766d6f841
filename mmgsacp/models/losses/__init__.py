from .bce_loss import IgnoreBCELoss
from .edge_weighted_bce_loss import EdgeWeightedBCELoss
from .gaussian_focal_loss import GaussianFocalLoss
from .hbc_loss import HardBackgroundContrastiveLoss, Negatives
from .soft_iou_loss import SoftIoULoss

__all__ = [
    'IgnoreBCELoss',
    'SoftIoULoss',
    'HardBackgroundContrastiveLoss',
    'Negatives',
    'GaussianFocalLoss',
    'EdgeWeightedBCELoss',
]
