"""Stops training on a NaN/inf loss before a corrupted model can be checkpointed."""
from __future__ import annotations

import math
import os.path as osp

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class InvalidLossGuardHook(Hook):
    """Raises on the first non-finite loss term, naming the iteration and the terms.

    It runs every iteration with a priority above :class:`CheckpointHook`, so the step whose
    loss went bad is never saved and the newest checkpoint on disk stays the last good one
    (the error message gives its path, for ``--resume``).
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        bad = {}
        for key, value in outputs.items():
            if hasattr(value, 'detach'):
                value = value.detach()
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                bad[key] = number
        if not bad:
            return
        last = osp.join(runner.work_dir, 'last_checkpoint')
        ckpt = open(last).read().strip() if osp.isfile(last) else None
        where = (f'the last good checkpoint is {ckpt} (continue with --resume)'
                 if ckpt else 'no checkpoint had been saved yet')
        raise RuntimeError(
            f'Non-finite loss at iteration {runner.iter + 1}: '
            + ', '.join(f'{k}={v}' for k, v in bad.items())
            + f'. Training stopped; {where}. Lower the learning rate or check the data.')
