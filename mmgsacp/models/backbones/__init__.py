from .compact_unet import CompactUNet
from .dnanet import DNANet
from .lite_unet import LiteUNet

__all__ = ['CompactUNet', 'DNANet', 'LiteUNet']
