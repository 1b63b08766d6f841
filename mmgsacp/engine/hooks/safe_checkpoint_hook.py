"""Checkpoints that load with ``torch.load(weights_only=True)``, torch's default since 2.6."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS

from ...utils.checkpoint import register_checkpoint_safe_globals

_MARK = '__history_buffer__'


def history_to_plain(buffer: HistoryBuffer) -> dict:
    """A ``HistoryBuffer`` as plain data (its pickle needs ``builtins.getattr``)."""
    logs, counts = buffer.data
    return {_MARK: True, 'log': np.asarray(logs, dtype=np.float64).tolist(),
            'count': np.asarray(counts, dtype=np.float64).tolist(),
            'max_length': int(buffer.max_length)}


def plain_to_history(plain: dict) -> HistoryBuffer:
    return HistoryBuffer(plain['log'], plain['count'], plain['max_length'])


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Stores the message hub's ``HistoryBuffer`` objects as plain data, and back on load.

    An MMEngine checkpoint pickles ``HistoryBuffer`` objects whose ``statistics_methods``
    reference methods through ``builtins.getattr``: ``torch.load`` with ``weights_only=True``
    refuses that, and allow-listing ``getattr`` would open the safe unpickler to arbitrary
    attribute access. With this hook, checkpoints hold only tensors, numbers, strings and
    numpy arrays (allow-listed by :mod:`mmgsacp.utils.checkpoint`), so ``--resume`` and
    ``load_from`` work on torch >= 2.6 with the official mmengine, which does not pass
    ``weights_only=False``, and with the fork, which would otherwise fall back to the unsafe
    unpickler.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get('message_hub')
        if not isinstance(hub, dict) or 'log_scalars' not in hub:
            return
        hub = dict(hub)
        hub['log_scalars'] = OrderedDict(
            (k, history_to_plain(v) if isinstance(v, HistoryBuffer) else v)
            for k, v in hub['log_scalars'].items())
        checkpoint['message_hub'] = hub

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # The fork loads inside torch's `safe_globals` context, whose exit removes the globals
        # it listed, ours among them: register them again.
        register_checkpoint_safe_globals()
        hub = checkpoint.get('message_hub')
        if not isinstance(hub, dict) or 'log_scalars' not in hub:
            return
        hub['log_scalars'] = OrderedDict(
            (k, plain_to_history(v) if isinstance(v, dict) and v.get(_MARK) else v)
            for k, v in hub['log_scalars'].items())
