"""Training scalars kept on the device until a MessageHub needs them.

MMEngine pushes every logged value into the :class:`~mmengine.logging.MessageHub` as soon as it
exists, and the hub stores Python numbers: each loss term, and the gradient norm when gradients
are clipped, is read back from the device every iteration (``.item()``, ``float()``), so the host
waits for the device several times per step. :class:`DeferredScalars` collects those values
(tensors unread) in the order they come and, when asked, reads all of them back with one
transfer and pushes them into the hub in that same order: the hub's histories, counts and
window means are then exactly the ones the immediate pushes would have made.

One collection is attached to a MessageHub while a deferring hook
(:class:`~mmgsacp.engine.hooks.DeferredRuntimeInfoHook`) runs; other components find it with
:func:`deferred_scalars_of` and fall back to an immediate push when there is none.
"""

from __future__ import annotations

import weakref
from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch

Number = Union[int, float, bool]

_ATTACHED: 'weakref.WeakKeyDictionary[Any, DeferredScalars]' = weakref.WeakKeyDictionary()


class DeferredScalars:
    """Ordered ``(key, value)`` scalars for a MessageHub, device tensors left unread.

    ``add`` never reads a tensor; :meth:`read` reads them all with one synchronisation per
    device (``torch.stack(...).tolist()``), and :meth:`push_to` hands them to
    ``MessageHub.update_scalar`` one by one, in the order they were added.
    """

    def __init__(self) -> None:
        self._entries: List[Tuple[str, Any]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> List[Tuple[str, Any]]:
        """The ``(key, value)`` pairs added so far, unread, in order (a new list)."""
        return list(self._entries)

    def add(self, key: str, value: Any) -> None:
        """Keep ``value`` (a one-element tensor, a number or a one-element numpy value) for
        ``key``. A tensor is detached (its graph is not kept alive) and not read.

        Raises:
            ValueError: a tensor or array that holds other than one value (the hub stores
                scalars; MMEngine's own push fails on it too, only later).
            TypeError: a complex tensor, or a value of another type.
        """
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f'logged value {key!r} must hold one element, got a tensor of shape '
                    f'{tuple(value.shape)}'
                )
            if value.is_complex():
                raise TypeError(f'logged value {key!r} is a complex tensor; the log takes reals')
            value = value.detach().reshape(())
        elif isinstance(value, np.ndarray):
            if value.size != 1:
                raise ValueError(
                    f'logged value {key!r} must hold one element, got an array of shape '
                    f'{value.shape}'
                )
        elif not isinstance(value, (int, float, np.number)):
            raise TypeError(
                f'logged value {key!r} must be a number, a numpy scalar or a one-element '
                f'tensor, got {type(value).__name__}'
            )
        self._entries.append((key, value))

    def read(self) -> List[Tuple[str, Any]]:
        """Every entry with its tensors read back, in order, and the collection emptied.

        Tensors become the Python number ``Tensor.item()`` gives (``float`` for floating
        dtypes, ``int`` for integer ones, ``bool`` for ``torch.bool``): they are read as
        float64, which holds every float16/bfloat16/float32 value and every integer up to
        2**53 exactly. Other values are returned as they were added.
        """
        entries, self._entries = self._entries, []
        by_device: dict = {}
        for index, (_, value) in enumerate(entries):
            if isinstance(value, torch.Tensor):
                by_device.setdefault(value.device, []).append(index)
        out = list(entries)
        for indices in by_device.values():
            # the one read-back: a stack on the device, then one transfer
            values = torch.stack([entries[i][1].to(torch.float64) for i in indices]).tolist()
            for i, number in zip(indices, values):
                key, tensor = entries[i]
                out[i] = (key, _as_item(number, tensor.dtype))
        return out

    def push_to(self, message_hub) -> int:
        """Read every entry (:meth:`read`) and ``update_scalar`` it into ``message_hub`` in
        order; returns how many values were pushed."""
        entries = self.read()
        for key, value in entries:
            message_hub.update_scalar(key, value)
        return len(entries)


def _as_item(number: float, dtype: torch.dtype) -> Number:
    """``number`` (read as float64) as the Python type ``Tensor.item()`` gives for ``dtype``."""
    if dtype == torch.bool:
        return bool(number)
    if not dtype.is_floating_point:
        return int(number)
    return number


def attach_deferred_scalars(message_hub, scalars: Optional[DeferredScalars]) -> None:
    """Make ``scalars`` the collection :func:`deferred_scalars_of` gives for ``message_hub``
    (``None`` detaches it)."""
    if scalars is None:
        _ATTACHED.pop(message_hub, None)
    else:
        _ATTACHED[message_hub] = scalars


def deferred_scalars_of(message_hub) -> Optional[DeferredScalars]:
    """The collection attached to ``message_hub``, or ``None`` when values go to it at once."""
    if message_hub is None:
        return None
    return _ATTACHED.get(message_hub)
