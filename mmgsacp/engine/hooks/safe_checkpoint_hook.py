"""Checkpoints that load with ``torch.load(weights_only=True)``, torch's default since 2.6."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmseg.registry import HOOKS

_MARK = '__history_buffer__'


def history_to_plain(buffer: HistoryBuffer) -> dict:
    """A ``HistoryBuffer`` as plain data (its pickle needs ``builtins.getattr``)."""
    logs, counts = buffer.data
    return {
        _MARK: True,
        'log': np.asarray(logs, dtype=np.float64).tolist(),
        'count': np.asarray(counts, dtype=np.float64).tolist(),
        'max_length': int(buffer.max_length),
    }


def plain_to_history(plain: dict) -> HistoryBuffer:
    return HistoryBuffer(plain['log'], plain['count'], plain['max_length'])


def to_plain(obj: Any) -> Any:
    """numpy scalars -> Python numbers and numpy arrays -> tensors, through dicts and lists.

    The loop's bookkeeping (``meta``, the message hub's runtime info) picks up numpy values;
    as plain numbers they load with ``weights_only=True`` without any allow-list, which other
    code may change at run time (torch's ``safe_globals`` context removes on exit the globals it
    listed, even ones registered before).
    """
    if isinstance(obj, HistoryBuffer):
        return history_to_plain(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, to_plain(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    return obj


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Stores the message hub's ``HistoryBuffer`` objects as plain data, and back on load.

    An MMEngine checkpoint pickles ``HistoryBuffer`` objects whose ``statistics_methods``
    reference methods through ``builtins.getattr``: ``torch.load`` with ``weights_only=True``
    refuses that, and allow-listing ``getattr`` would open the safe unpickler to arbitrary
    attribute access. With this hook, checkpoints hold only tensors, numbers, strings, lists and
    dicts (numpy values become numbers or tensors, see :func:`to_plain`), which is all that
    mmgsacp's checkpoint loader (:mod:`mmgsacp.utils.checkpoint`, weights-only, no allow-list)
    accepts for ``--resume``, ``load_from``, ``tools/test.py`` and ``tools/infer.py``.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Weights and optimizer state are tensors already; the rest is bookkeeping.
        for key in list(checkpoint):
            if key not in ('state_dict', 'optimizer'):
                checkpoint[key] = to_plain(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get('message_hub')
        if not isinstance(hub, dict) or 'log_scalars' not in hub:
            return
        hub['log_scalars'] = OrderedDict(
            (k, plain_to_history(v) if isinstance(v, dict) and v.get(_MARK) else v)
            for k, v in hub['log_scalars'].items()
        )
