from .bce_loss import IgnoreBCELoss
from .hbc_loss import HardBackgroundContrastiveLoss
from .soft_iou_loss import SoftIoULoss

__all__ = ['IgnoreBCELoss', 'SoftIoULoss', 'HardBackgroundContrastiveLoss']
