"""bf16 autocast training without loss scaling."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn
from mmseg.registry import OPTIM_WRAPPERS

from .deferred_log_optim_wrapper import DeferredLogOptimWrapper


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(DeferredLogOptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose forward pass runs under bf16 autocast.

    bfloat16 has float32's exponent range, so gradients neither underflow nor overflow and no
    loss scaling is needed. MMEngine's ``AmpOptimWrapper`` always scales (a ``GradScaler``,
    whose step reads an inf/NaN flag back from the device every iteration) and refuses to be
    built without a GPU; this wrapper only adds the autocast context, on the device the model's
    parameters are on (CUDA, or CPU for checks). Parameters, gradients and optimizer state stay
    float32; the losses cast their inputs to float32 themselves. The clipped gradient norm is
    logged as :class:`DeferredLogOptimWrapper` logs it (no read-back each step).

    Config: ``optim_wrapper = dict(type='BF16AutocastOptimWrapper', optimizer=dict(...))``.
    """

    @contextmanager
    def optim_context(self, model: nn.Module):
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        # No cast cache: each weight is used once per forward pass here, and a cache would
        # hold casts in a CUDA graph's memory past its capture (model.cuda_graph).
        with super().optim_context(model), torch.autocast(
            device_type=device_type, dtype=torch.bfloat16, cache_enabled=False
        ):
            yield
