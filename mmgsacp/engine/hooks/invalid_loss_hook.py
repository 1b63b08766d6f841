"""Stops training on a NaN/inf loss before a corrupted model can be checkpointed."""

from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class InvalidLossGuardHook(Hook):
    """Raises on a non-finite loss term, naming the first bad iteration and the terms.

    Reading a loss value makes the host wait for the device, so the check is kept on the
    device: after each iteration the first iteration at which every loss term went non-finite
    (and its value) is recorded in a small device tensor, without a read-back. That record is
    read every ``interval`` iterations, before every checkpoint is written
    (``before_save_checkpoint``), before validation and at the end of training. A checkpoint
    therefore never holds a step whose loss went bad: the newest one on disk stays the last
    good one, and the error gives its path for ``--resume``. Training stops at most
    ``interval - 1`` iterations after the bad one; the message names the first bad iteration,
    the iteration it was read at, and the terms.

    Args:
        interval (int): Iterations between two reads. 1 reads every iteration (one
            host-device synchronisation per step, the strictest stop). Defaults to 50.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 50) -> None:
        if int(interval) < 1:
            raise ValueError(f'InvalidLossGuardHook: interval must be >= 1, got {interval}')
        self.interval = int(interval)
        self._keys: List[str] = []
        # per key: first bad iteration (1-based; 0 = none yet) and its value
        self._first_bad: Optional[torch.Tensor] = None
        self._bad_value: Optional[torch.Tensor] = None
        self._pending = False  # iterations recorded since the last read

    def _scalars(self, outputs: dict) -> Dict[str, torch.Tensor]:
        out = {}
        for key, value in outputs.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                out[key] = value.detach().reshape(())
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = torch.tensor(float(value))
        return out

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs:
            scalars = self._scalars(outputs)
            if scalars:
                self._record(runner.iter + 1, scalars)
        if self.every_n_train_iters(runner, self.interval):
            self.check(runner)

    def _record(self, iteration: int, scalars: Dict[str, torch.Tensor]) -> None:
        device = next(iter(scalars.values())).device
        for key in scalars:
            if key not in self._keys:  # a term that appears later (e.g. after a warm-up)
                self._keys.append(key)
                pad = torch.zeros(1, dtype=torch.long, device=device)
                self._first_bad = (
                    pad if self._first_bad is None else torch.cat([self._first_bad.to(device), pad])
                )
                self._bad_value = (
                    pad.float()
                    if self._bad_value is None
                    else torch.cat([self._bad_value.to(device), pad.float()])
                )
        values = torch.stack(
            [
                scalars[k].to(device=device, dtype=torch.float32)
                if k in scalars
                else torch.zeros((), device=device)
                for k in self._keys
            ]
        )
        new = ~torch.isfinite(values) & (self._first_bad.to(device) == 0)
        self._first_bad = torch.where(
            new, torch.full_like(self._first_bad, iteration), self._first_bad.to(device)
        )
        self._bad_value = torch.where(new, values, self._bad_value.to(device))
        self._pending = True

    def check(self, runner) -> None:
        """Read the record (one synchronisation) and raise if a term went non-finite."""
        if not self._pending or self._first_bad is None:
            return
        self._pending = False
        first = self._first_bad.tolist()
        if not any(first):
            return
        values = self._bad_value.tolist()
        start = min(i for i in first if i)
        bad = {k: v for k, i, v in zip(self._keys, first, values) if i == start}
        later = [k for k, i in zip(self._keys, first) if i > start]
        last = osp.join(runner.work_dir, 'last_checkpoint')
        ckpt = open(last).read().strip() if osp.isfile(last) else None
        where = (
            f'the last good checkpoint is {ckpt} (continue with --resume)'
            if ckpt
            else 'no checkpoint had been saved yet'
        )
        raise RuntimeError(
            f'Non-finite loss at iteration {start} (read every {self.interval} iterations and '
            'before each checkpoint): '
            + ', '.join(f'{k}={v}' for k, v in bad.items())
            + (f' (then also {", ".join(later)})' if later else '')
            + f'. Training stopped; {where}. Lower the learning rate or check the data.'
        )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.check(runner)

    def before_val(self, runner) -> None:
        self.check(runner)

    def after_train(self, runner) -> None:
        self.check(runner)
