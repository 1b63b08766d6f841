from .bf16_optim_wrapper import BF16AutocastOptimWrapper
from .deferred_log_optim_wrapper import DeferredLogOptimWrapper

__all__ = ['BF16AutocastOptimWrapper', 'DeferredLogOptimWrapper']
