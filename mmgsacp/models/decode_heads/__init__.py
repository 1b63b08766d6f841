from .affinity_propagation_head import AffinityPropagationHead
from .binary_head import BinaryIRHead, stack_points

__all__ = ['BinaryIRHead', 'AffinityPropagationHead', 'stack_points']
