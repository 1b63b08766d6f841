"""Gradient clipping whose norm is logged without a read-back each step."""

from __future__ import annotations

from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from mmgsacp.utils.deferred_scalars import deferred_scalars_of


@OPTIM_WRAPPERS.register_module()
class DeferredLogOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` that leaves the clipped gradient norm on the device.

    MMEngine's wrapper logs the norm ``clip_grad`` returns with ``float(norm)``, which makes the
    host wait for the device at every step. When a
    :class:`~mmgsacp.engine.hooks.DeferredRuntimeInfoHook` is running, the norm tensor joins
    the values it reads back once per log line instead (same key, same values); otherwise, and
    for ``clip_grad=dict(type='value')`` (no norm), this is MMEngine's wrapper unchanged.
    Clipping itself is MMEngine's: the same function on the same parameters.

    Config: ``optim_wrapper = dict(type='DeferredLogOptimWrapper', optimizer=..., clip_grad=...)``.
    """

    def _clip_grad(self) -> None:
        deferred = deferred_scalars_of(self.message_hub)
        if deferred is None:
            super()._clip_grad()
            return
        params = [
            p
            for group in self.optimizer.param_groups
            for p in group['params']
            if p.requires_grad and p.grad is not None
        ]
        if params:
            norm = self.clip_func(params, **self.clip_grad_kwargs)
            if norm is not None:  # clip_grad_value_ returns None
                deferred.add(f'train/{self.grad_name}', norm)
