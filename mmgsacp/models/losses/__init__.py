from .bce_loss import IgnoreBCELoss
from .hbc_loss import HardBackgroundContrastiveLoss, Negatives
from .soft_iou_loss import SoftIoULoss

__all__ = ['IgnoreBCELoss', 'SoftIoULoss', 'HardBackgroundContrastiveLoss', 'Negatives']
