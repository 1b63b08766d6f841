"""MMEngine's runtime-information hook with the training log values read once per log line."""

from __future__ import annotations

from typing import Optional

from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.utils import apply_to
from mmseg.registry import HOOKS

from mmgsacp.utils.deferred_scalars import (
    DeferredScalars,
    attach_deferred_scalars,
    deferred_scalars_of,
)


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """:class:`~mmengine.hooks.RuntimeInfoHook` whose per-iteration log values stay on the
    device until something reads them.

    MMEngine's hook pushes each value of the model's ``log_vars`` into the MessageHub after
    every iteration, and the hub turns each tensor into a Python number: one host-device
    synchronisation per loss term per step. Here the values are kept, unread, in a
    :class:`~mmgsacp.utils.deferred_scalars.DeferredScalars` attached to the runner's hub
    (where :class:`~mmgsacp.engine.optimizers.DeferredLogOptimWrapper` also leaves the gradient
    norm), and are read back with one synchronisation and pushed in their order:

    * at every iteration the ``LoggerHook`` writes a line (each ``interval``-th, and the last
      of the train dataloader's epoch);
    * before validation, before every checkpoint is written (its message-hub state is taken
      again, so the checkpoint holds every value up to its iteration), at the end of each
      epoch and at the end of training (a run ending between two log lines keeps its last
      values).

    The hub's histories are the ones MMEngine's hook makes (same values, counts and order), so
    the logs do not change; in between, ``message_hub.get_scalar('train/<key>')`` lags by up to
    ``interval - 1`` iterations. Everything else (meta, iteration and epoch counters, learning
    rate, validation and test metrics) is MMEngine's hook unchanged.

    Config (it replaces MMEngine's default hook of the same name)::

        default_hooks = dict(runtime_info=dict(type='DeferredRuntimeInfoHook'))

    Args:
        interval (int, optional): iterations between two reads. ``None`` (default) takes the
            registered ``LoggerHook``'s interval; a value must equal it when there is one.
            Without a ``LoggerHook`` it defaults to 50 (nothing reads the values in between;
            the reads only bound how many wait on the device).
    """

    def __init__(self, interval: Optional[int] = None) -> None:
        if interval is not None and int(interval) < 1:
            raise ValueError(f'DeferredRuntimeInfoHook: interval must be >= 1, got {interval}')
        self.interval = None if interval is None else int(interval)
        self._interval = self.interval or 50

    def before_train(self, runner) -> None:
        super().before_train(runner)
        loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
        if loggers:
            logged = loggers[0].interval
            if self.interval is not None and self.interval != logged:
                raise ValueError(
                    f'DeferredRuntimeInfoHook: interval={self.interval} differs from the '
                    f'LoggerHook interval {logged}; the log would read values not yet pushed. '
                    'Leave interval unset (it follows default_hooks.logger.interval).'
                )
            self._interval = logged
        attach_deferred_scalars(runner.message_hub, DeferredScalars())

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None
    ) -> None:
        scalars = deferred_scalars_of(runner.message_hub)
        if scalars is None:  # not started through before_train: MMEngine's immediate push
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
            return
        if outputs is not None:
            for key, value in outputs.items():
                scalars.add(f'train/{key}', value)
        # the LoggerHook's own test of whether it writes a line after this iteration
        if self.every_n_inner_iters(batch_idx, self._interval) or self.end_of_epoch(
            runner.train_dataloader, batch_idx
        ):
            self.flush(runner)

    def flush(self, runner) -> bool:
        """Push every kept value into ``runner.message_hub`` (one read-back); returns whether
        there was anything to push."""
        scalars = deferred_scalars_of(runner.message_hub)
        if scalars is None or not len(scalars):
            return False
        scalars.push_to(runner.message_hub)
        return True

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # the Runner took the hub's state before calling the hooks: take it again with the
        # values pushed (tensors to the host, as the Runner does)
        if self.flush(runner) and 'message_hub' in checkpoint:
            checkpoint['message_hub'] = apply_to(
                runner.message_hub.state_dict(), lambda x: hasattr(x, 'cpu'), lambda x: x.cpu()
            )

    def before_val(self, runner) -> None:
        self.flush(runner)
        super().before_val(runner)

    def after_train_epoch(self, runner) -> None:
        self.flush(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        attach_deferred_scalars(runner.message_hub, None)
        super().after_train(runner)
