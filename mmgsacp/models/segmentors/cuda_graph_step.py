"""Training steps replayed from CUDA graphs.

A small network on a fast GPU trains at the speed of Python: each step launches several hundred
kernels, and the host takes longer to queue them than the device takes to run them. A CUDA
graph records the kernels of one step (loss, backward, gradient clipping, optimizer step) once
and replays them with one call. :class:`CUDAGraphTrainStep` does this for a segmentor's
training step, per *batch signature*: the shapes and dtypes of the batch's tensors and the
Python state the step's code branches on. A signature is captured after it has been trained
eagerly ``warmup`` times (cuDNN autotuning, lazy initialisation, and proof that it recurs), and
its graph is replayed whenever the signature comes back; anything else runs eagerly.

What a replay skips is the Python side of the step, so the modules say what it depends on and
what it would have done (the segmentor collects it, see :class:`IREncoderDecoder`):

* ``graph_key()`` on a module: hashable Python state the step's code reads (e.g. the
  affinity term's warm-up weight). It joins the signature; a value that changes every step
  keeps that step eager.
* ``graph_replayed()``: the host-side bookkeeping of one step (e.g. a step counter mirrored on
  the host), called after every replay but the one that follows the capture (the capture itself
  ran the Python once).

A step whose capture fails (an operation that reads a value back, or copies host memory to the
device, cannot be captured) stops training with an error that names the first failing
operation: after a failed capture the CUDA random generator is left in its capturing state, so
an eager fallback could fail later in an unrelated place (the first dropout).
"""

from __future__ import annotations

import collections
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

from ...utils.deferred_scalars import (
    DeferredScalars,
    attach_deferred_scalars,
    deferred_scalars_of,
)


def sample_leaves(
    sample: BaseDataElement, skip: Sequence[str] = (), prefix: str = ''
) -> List[Tuple[str, Tensor]]:
    """The tensor data fields of a data sample (nested elements included), in a fixed order.

    Args:
        sample (BaseDataElement): e.g. a ``SegDataSample``.
        skip (Sequence[str]): top-level fields to leave out.
        prefix (str): prepended to the names (recursion).

    Returns:
        list[tuple[str, Tensor]]: ``(dotted name, tensor)`` sorted by name.
    """
    out: List[Tuple[str, Tensor]] = []
    for name in sorted(sample.keys()):
        if not prefix and name in skip:
            continue
        value = getattr(sample, name)
        if isinstance(value, Tensor):
            out.append((prefix + name, value))
        elif isinstance(value, BaseDataElement):
            out.extend(sample_leaves(value, (), f'{prefix}{name}.'))
    return out


class _Captured:
    """One signature's graph and its static tensors."""

    def __init__(self) -> None:
        self.graph = torch.cuda.CUDAGraph()
        self.inputs: Optional[Tensor] = None
        self.samples: List[BaseDataElement] = []
        self.extras: Dict[str, Tensor] = {}
        self.log_vars: Dict[str, Tensor] = {}
        self.scalars: List[Tuple[str, Any]] = []  # deferred log values the step adds
        self.lrs: List[Optional[Tensor]] = []  # each param group's rate as the graph reads it
        self.static: List[Tensor] = []  # what each step's batch is copied into, in batch order
        self.fresh = True  # the Python side of the captured step has run, its kernels not yet


class CUDAGraphTrainStep:
    """Capture and replay a segmentor's training step on CUDA (see the module).

    Args:
        warmup (int): eager steps of a signature before it is captured. Defaults to 3.
        max_graphs (int): graphs kept at most; the least recently used is dropped beyond.
            The graphs share one memory pool (they never run at the same time). Defaults to 64.
    """

    def __init__(self, warmup: int = 3, max_graphs: int = 64) -> None:
        if warmup < 1 or max_graphs < 1:
            raise ValueError(
                f'cuda_graph needs warmup >= 1 and max_graphs >= 1, got {warmup} and {max_graphs}'
            )
        self.warmup = int(warmup)
        self.max_graphs = int(max_graphs)
        self._seen: Dict[Hashable, int] = collections.Counter()
        self._graphs: 'collections.OrderedDict[Hashable, _Captured]' = collections.OrderedDict()
        self._pool = None
        #: steps by kind: ``eager``, ``captured``, ``replayed``.
        self.counts: Dict[str, int] = collections.Counter()

    # ------------------------------------------------------------------ public
    def step(self, model, data: Dict[str, Any], optim_wrapper) -> Dict[str, Tensor]:
        """One training step on a preprocessed batch; returns the log variables.

        Args:
            model: an :class:`IREncoderDecoder` (``loss``, ``parse_losses``,
                ``graph_extras``, ``graph_state_key``, ``graph_skip_fields`` and the module
                protocol of this module's docstring).
            data (dict): ``inputs`` and ``data_samples`` out of the data preprocessor.
            optim_wrapper: the runner's optimizer wrapper.
        """
        inputs, samples = data['inputs'], data['data_samples']
        key = None
        if inputs.is_cuda:
            leaves = [sample_leaves(s, model.graph_skip_fields) for s in samples]
            extras = model.graph_extras(samples)
            key = self._signature(model, inputs, samples, leaves, extras, optim_wrapper.optimizer)
        if key is None:
            return self._eager(model, data, optim_wrapper)
        entry = self._graphs.get(key)
        if entry is None:
            self._seen[key] += 1
            if self._seen[key] <= self.warmup:
                return self._eager(model, data, optim_wrapper)
            entry = self._capture(model, key, inputs, samples, extras, optim_wrapper)
        else:
            self._graphs.move_to_end(key)
        batch = [inputs, *(t for sample in leaves for _, t in sample), *extras.values()]
        torch._foreach_copy_(entry.static, batch)
        for group, lr in zip(optim_wrapper.optimizer.param_groups, entry.lrs):
            if lr is not None:  # the scheduler's rate of this step (a kernel, not a read-back)
                lr.fill_(group['lr'])
        entry.graph.replay()
        if entry.fresh:
            entry.fresh = False
            self.counts['captured'] += 1
        else:
            model.graph_replayed()
            optim_wrapper._inner_count += 1  # what update_params' backward() counts
            self.counts['replayed'] += 1
        deferred = deferred_scalars_of(optim_wrapper.message_hub)
        if deferred is not None:
            for name, value in entry.scalars:
                deferred.add(name, value.clone() if isinstance(value, Tensor) else value)
        return {k: v.clone() for k, v in entry.log_vars.items()}

    @property
    def num_graphs(self) -> int:
        return len(self._graphs)

    # ------------------------------------------------------------------ internals
    def _signature(
        self,
        model,
        inputs: Tensor,
        samples,
        leaves: List[List[Tuple[str, Tensor]]],
        extras: Dict[str, Tensor],
        optimizer,
    ) -> Optional[Hashable]:
        state = model.graph_state_key()
        if state is None:
            return None
        fields = tuple(
            tuple((n, tuple(t.shape), t.dtype, t.device) for n, t in sample) for sample in leaves
        )
        shapes = tuple(tuple(s.metainfo.get('img_shape', ())) for s in samples)
        return (
            tuple(inputs.shape),
            inputs.dtype,
            fields,
            shapes,
            tuple((n, tuple(t.shape), t.dtype) for n, t in extras.items()),
            state,
            # optimizers without a capturable form keep the rate the graph was captured with
            tuple(g['lr'] for g in optimizer.param_groups if 'capturable' not in g),
        )

    def _eager(self, model, data: Dict[str, Any], optim_wrapper) -> Dict[str, Tensor]:
        self.counts['eager'] += 1
        with optim_wrapper.optim_context(model):
            losses = model.loss(data['inputs'], data['data_samples'])
        parsed, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        # Detached: a caller that keeps them must not keep this step's autograd graph alive,
        # whose gradient accumulators (made on this stream) would break the next capture.
        return {k: v.detach() for k, v in log_vars.items()}

    def _capture(
        self,
        model,
        key: Hashable,
        inputs: Tensor,
        samples,
        extras: Dict[str, Tensor],
        optim_wrapper,
    ) -> _Captured:
        if getattr(optim_wrapper, '_accumulative_counts', 1) != 1:
            raise ValueError(
                'model.cuda_graph cannot capture steps that accumulate gradients '
                '(optim_wrapper.accumulative_counts > 1)'
            )
        _make_capturable(optim_wrapper.optimizer)
        entry = _Captured()
        skip = model.graph_skip_fields
        entry.inputs = inputs.clone()
        entry.samples = [s.clone() for s in samples]
        for s in entry.samples:
            for name in skip:
                if name in s:
                    delattr(s, name)
        entry.extras = {k: v.clone() for k, v in extras.items()}
        static_leaves = [t for s in entry.samples for _, t in sample_leaves(s, skip)]
        entry.static = [entry.inputs, *static_leaves, *entry.extras.values()]
        optim_wrapper.zero_grad()  # the captured backward must allocate, not accumulate
        hub = optim_wrapper.message_hub
        outer = deferred_scalars_of(hub)
        recorder = DeferredScalars()
        attach_deferred_scalars(hub, recorder)
        groups = optim_wrapper.optimizer.param_groups
        rates = [g['lr'] for g in groups]
        entry.lrs = device_learning_rates(optim_wrapper.optimizer)
        for group, lr in zip(groups, entry.lrs):
            if lr is not None:
                group['lr'] = lr
        try:
            with torch.cuda.graph(entry.graph, pool=self._pool):
                with optim_wrapper.optim_context(model):
                    losses = model.loss(entry.inputs, entry.samples, **entry.extras)
                parsed, entry.log_vars = model.parse_losses(losses)
                optim_wrapper.update_params(parsed)
        except Exception as err:
            # A failure inside the capture surfaces as the capture's end failing; name the first.
            root = err
            while root.__context__ is not None:
                root = root.__context__
            raise RuntimeError(
                'model.cuda_graph: the training step could not be captured in a CUDA graph '
                f'({type(root).__name__}: {root}); train without it (model.cuda_graph=False)'
            ) from err
        finally:
            attach_deferred_scalars(hub, outer)
            for group, rate in zip(groups, rates):  # schedulers and loggers read floats
                group['lr'] = rate
        entry.scalars = recorder.entries()
        # One pool for all graphs: they never run at once, and every output a graph leaves in
        # the pool (log values, deferred scalars) is copied out right after its replay, so
        # another graph reusing that memory later overwrites nothing still needed.
        self._pool = entry.graph.pool()
        self._graphs[key] = entry
        while len(self._graphs) > self.max_graphs:
            self._graphs.popitem(last=False)
        return entry


def device_learning_rates(optimizer: torch.optim.Optimizer) -> List[Optional[Tensor]]:
    """One 0-dim float32 tensor per parameter group holding its learning rate, on the group's
    device, for optimizers with a capturable form (Adam, AdamW); None for the others.

    A captured optimizer step reads a Python float rate as a constant; a tensor rate is read
    from memory at each replay, so a learning-rate schedule (which writes floats into the
    groups) is followed by filling these tensors before each replay.
    """
    out: List[Optional[Tensor]] = []
    for group in optimizer.param_groups:
        if 'capturable' not in group or not group['params']:
            out.append(None)
            continue
        device = group['params'][0].device
        out.append(torch.full((), float(group['lr']), dtype=torch.float32, device=device))
    return out


def _make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Switch the optimizer to its capturable form (step counts on the device)."""
    for group in optimizer.param_groups:
        if group.get('capturable', True):  # no such option (e.g. SGD): no host step count
            continue
        group['capturable'] = True
        for p in group['params']:
            step = optimizer.state.get(p, {}).get('step')
            if isinstance(step, Tensor) and step.device != p.device:
                optimizer.state[p]['step'] = step.to(p.device, dtype=torch.float32)
