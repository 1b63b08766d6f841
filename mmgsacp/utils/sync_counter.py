"""Count the calls that make the host wait for the device (host-device synchronisations).

On a GPU a training step whose Python side waits for the device at every ``.item()`` or
boolean-mask index cannot queue work ahead, and becomes host-bound. On CPU nothing waits, so
:class:`SyncCounter` counts the *calls that would synchronise* on a CUDA device: a
:class:`torch.overrides.TorchFunctionMode` sees every tensor method and ``torch.*`` function
called from Python and records those that read device values back to the host. On CUDA it
instead counts the warnings of ``torch.cuda.set_sync_debug_mode('warn')``, the device's own
account (which also sees syncs inside C++ operators, and none of the CPU-only ones).

Example::

    with SyncCounter() as syncs:
        model.train_step(data, optim_wrapper)
    print(syncs.total, syncs.by_kind(), syncs.by_site())
"""

from __future__ import annotations

import collections
import contextlib
import os.path as osp
import sys
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch.overrides import TorchFunctionMode

Tensor = torch.Tensor

#: Tensor methods that read values back to the host whenever the tensor holds data.
_READ_BACK = {
    Tensor.item: 'item',
    Tensor.tolist: 'tolist',
    Tensor.numpy: 'numpy',
    Tensor.cpu: 'cpu',
    Tensor.__bool__: 'bool',
    Tensor.__float__: 'float',
    Tensor.__int__: 'int',
    Tensor.__index__: 'index',
    Tensor.__complex__: 'complex',
}
#: Operators whose output size, or result, depends on the values (the host must learn it).
_VALUE_SIZED = {
    torch.equal: 'equal',
    torch.nonzero: 'nonzero',
    Tensor.nonzero: 'nonzero',
    torch.argwhere: 'nonzero',
    Tensor.argwhere: 'nonzero',
    torch.masked_select: 'masked_select',
    Tensor.masked_select: 'masked_select',
    torch.unique: 'unique',
    Tensor.unique: 'unique',
    torch.unique_consecutive: 'unique',
    Tensor.unique_consecutive: 'unique',
    torch.repeat_interleave: 'repeat_interleave',
    Tensor.repeat_interleave: 'repeat_interleave',
    torch.bincount: 'bincount',
    Tensor.bincount: 'bincount',
    torch.is_nonzero: 'bool',
    Tensor.is_nonzero: 'bool',
    torch.allclose: 'equal',
    Tensor.allclose: 'equal',
}
_INDEXING = {Tensor.__getitem__: 'bool_index', Tensor.__setitem__: 'bool_index_put'}

_TORCH_DIR = osp.dirname(torch.__file__)
# The optimizers' step counters are host tensors on every device (unless ``capturable`` or
# ``fused``), so their reads never wait for a GPU.
_HOST_SIDE_DIRS = (osp.join(_TORCH_DIR, 'optim') + osp.sep,)


_host_only_depth = 0


@contextlib.contextmanager
def host_only():
    """Mark a block that reads tensors its caller has checked to be on the host.

    Such a block runs only where the tensors are host tensors (its caller takes another
    branch on a device), so its reads never make the host wait; CPU counting leaves them out
    instead of reporting a synchronisation that a GPU run would never make.
    """
    global _host_only_depth
    _host_only_depth += 1
    try:
        yield
    finally:
        _host_only_depth -= 1


def _has_bool_mask(index) -> bool:
    """Whether an index expression holds a boolean tensor (a mask: its selection count is
    data-dependent; a 0-dim bool is a plain condition and needs no count)."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, Tensor) and i.dtype == torch.bool and i.dim() > 0 for i in items)


def _call_site() -> str:
    """``file:line`` of the innermost frame outside torch and this module."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_TORCH_DIR) and name != __file__:
            return f'{name}:{frame.f_lineno}'
        frame = frame.f_back
    return '?'


class _CountingMode(TorchFunctionMode):
    """Torch-function mode that reports each would-be synchronisation to ``record``."""

    def __init__(self, record: Callable[[str], None]) -> None:
        super().__init__()
        self._record = record

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _host_only_depth:
            return func(*args, **kwargs)
        kind = _READ_BACK.get(func)
        if kind is not None:
            if (
                kind == 'cpu'
                and args
                and args[0].device.type == 'cpu'
                and torch.cuda.is_available()
            ):
                kind = None  # already on the host, a no-op even on a CUDA machine
            elif not (args and isinstance(args[0], Tensor) and args[0].numel() > 0):
                kind = None
            elif sys._getframe(1).f_code.co_filename.startswith(_HOST_SIDE_DIRS):
                kind = None
        else:
            kind = _VALUE_SIZED.get(func)
            if func is torch.where and len(args) + len(kwargs) == 1:
                kind = 'nonzero'  # the one-argument form is nonzero
            elif func in _INDEXING and len(args) > 1 and _has_bool_mask(args[1]):
                # ``x[mask] = scalar`` is a masked fill (no sync); a tensor value needs the
                # selection count
                if func is not Tensor.__setitem__ or isinstance(args[2], Tensor):
                    kind = _INDEXING[func]
        if kind is not None:
            self._record(kind)
        return func(*args, **kwargs)


class SyncCounter:
    """Context manager counting host-device synchronisations inside its block.

    Args:
        device (str, optional): ``'cuda'`` counts the synchronisations CUDA reports
            (``torch.cuda.set_sync_debug_mode('warn')``); ``'cpu'`` counts the calls that would
            synchronise on a GPU. Defaults to ``'cuda'`` when CUDA is available, else
            ``'cpu'``.
        sites (bool): also record the ``file:line`` of each call (CPU counting only; slower).

    Attributes:
        total (int): synchronisations counted.
        kinds (Counter): per kind (``item``, ``float``, ``bool``, ``bool_index``, ``cuda`` ...).
        sites (Counter): per call site, when ``sites`` is set.
    """

    def __init__(self, device: Optional[str] = None, sites: bool = False) -> None:
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device not in ('cpu', 'cuda'):
            raise ValueError(f"SyncCounter: device must be 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise RuntimeError(
                "SyncCounter(device='cuda'): CUDA is not available here; "
                "use device='cpu' to count the calls that would synchronise"
            )
        self.device = device
        self.record_sites = sites
        self.kinds: collections.Counter = collections.Counter()
        self.sites: collections.Counter = collections.Counter()
        self._mode: Optional[_CountingMode] = None
        self._warnings = None
        self._caught: List[warnings.WarningMessage] = []
        self._previous_debug_mode = 0

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def by_kind(self) -> Dict[str, int]:
        return dict(self.kinds.most_common())

    def by_site(self, top: int = 20) -> List[Tuple[str, int]]:
        return self.sites.most_common(top)

    def _record(self, kind: str) -> None:
        self.kinds[kind] += 1
        if self.record_sites:
            self.sites[_call_site()] += 1

    def __enter__(self) -> 'SyncCounter':
        if self.device == 'cuda':
            torch.cuda.synchronize()
            self._previous_debug_mode = torch.cuda.get_sync_debug_mode()
            self._warnings = warnings.catch_warnings(record=True)
            self._caught = self._warnings.__enter__()
            # every occurrence, not once per source line
            warnings.simplefilter('always')
            torch.cuda.set_sync_debug_mode('warn')
        else:
            self._mode = _CountingMode(self._record)
            self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.device == 'cuda':
            torch.cuda.set_sync_debug_mode(self._previous_debug_mode)
            self._warnings.__exit__(*exc)
            for w in self._caught:
                if 'synchronizing' in str(w.message).lower():
                    self.kinds['cuda'] += 1
                    if self.record_sites:
                        self.sites[f'{w.filename}:{w.lineno}'] += 1
        else:
            self._mode.__exit__(*exc)
            self._mode = None
