from .compact_unet import CompactUNet
from .dnanet import DNANet

__all__ = ['CompactUNet', 'DNANet']
