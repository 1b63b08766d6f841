"""Checkpoint compatibility with ``torch.load(weights_only=True)`` (the default since torch 2.6).

Beside tensors, mmgsacp checkpoints hold numpy arrays and scalars (the message hub's history,
stored as plain data by :class:`~mmgsacp.engine.hooks.SafeCheckpointHook`). Rather than switching
the safety check off, exactly the numpy pieces needed to rebuild arrays are allow-listed, so both
the official mmengine (which calls ``torch.load`` with the default) and the fork (which tries
``weights_only=True`` first) load mmgsacp checkpoints with the safe unpickler.
"""
from __future__ import annotations

from typing import Any, List

import numpy as np
import torch


def _numpy_safe_globals() -> List[Any]:
    objs: List[Any] = [np.ndarray, np.dtype]
    # numpy 2 moved the pickling helpers to numpy._core; numpy 1 keeps numpy.core.
    for modname in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            mod = __import__(modname, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        objs += [mod._reconstruct, mod.scalar]
        break
    # Concrete dtype classes (numpy >= 1.25 pickles e.g. numpy.dtypes.Float64DType).
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        objs += [getattr(dtypes_mod, n) for n in dir(dtypes_mod) if n.endswith('DType')]
    return objs


def checkpoint_safe_globals() -> List[Any]:
    """The non-tensor classes that mmgsacp checkpoints hold."""
    return _numpy_safe_globals()


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load(weights_only=True)``."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 has no weights_only default to satisfy
        return
    add(checkpoint_safe_globals())
