"""Checkpoint compatibility with ``torch.load(weights_only=True)`` (the default since torch 2.6).

MMEngine checkpoints hold, beside tensors, the message hub's ``HistoryBuffer`` objects (which
wrap numpy arrays) and numpy scalars in ``meta``. Rather than switching the safety check off, the
exact classes those checkpoints contain are allow-listed, so both the official mmengine (which
calls ``torch.load`` with the default) and the fork (which tries ``weights_only=True`` first)
load mmgsacp checkpoints safely.
"""
from __future__ import annotations

import os
import tempfile
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
    """The non-tensor classes that MMEngine/mmgsacp checkpoints hold."""
    from mmengine.logging import HistoryBuffer
    objs = [HistoryBuffer] + _numpy_safe_globals()
    try:
        from mmengine.config import ConfigDict
        objs.append(ConfigDict)
    except ImportError:  # pragma: no cover
        pass
    return objs


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load(weights_only=True)``."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 has no weights_only default to satisfy
        return
    add(checkpoint_safe_globals())


def atomic_torch_save(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` so that a crash never leaves a half-written file there.

    The checkpoint goes to a temporary file in the same folder first and replaces ``path``
    with an atomic rename only once it is complete and flushed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix='.pth', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
