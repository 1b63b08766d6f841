"""Inference benchmark of the mmgsacp networks: throughput, peak memory, parameters, FLOPs.

Each network is its backbone followed by a 1x1 conv to one logit channel (what the decode
head adds), run in eval mode under ``torch.inference_mode`` with batch 1, fp32.

* **throughput**: ``repeats`` rounds after ``warmup`` untimed passes (oneDNN / cuDNN pick and
  cache their kernels during warm-up; ``cudnn.benchmark`` is on because the input size is
  fixed; the GPU is synchronized around each pass). Each round times one pass of every network
  in turn, so a shared CPU's stalls hit all networks alike; images/s = 1 / median latency
  (``ms_mean`` and the per-round ``times_ms`` are in the report too).
* **peak memory**: the extra memory one forward pass needs on top of what is already resident
  (weights, input): CUDA's ``max_memory_allocated`` growth, or on the CPU the kernel's peak RSS
  (``VmHWM``, reset through ``/proc/self/clear_refs``) over the RSS before the pass, with
  ``ru_maxrss`` growth as the fallback (``mem_method`` says which).
* **FLOPs**: ``torch.utils.flop_counter.FlopCounterMode`` over one forward pass on the ``meta``
  device; a multiply-add counts 2 (FLOPs = 2 x MACs), matmul/conv-like ops only.
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import gc
import platform
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from mmgsacp.models.backbones import CompactUNet, DNANet
from mmgsacp.utils.io import InputError, write_json


class WithHead(nn.Module):
    """Backbone + 1x1 conv classifier on its last output: ``(B, C, H, W) -> (B, 1, H, W)``."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Conv2d(backbone.out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[-1])


NETWORKS: Dict[str, Callable[[], nn.Module]] = {
    'CompactUNet': lambda: WithHead(CompactUNet(in_channels=1)),
    'DNANet': lambda: WithHead(DNANet(in_channels=1)),
}


# ------------------------------------------------------------------------------ CPU memory

def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return _proc_status_kb('VmHWM') is not None


_LIBC = None


def _malloc_trim() -> None:
    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library('c')
        try:
            _LIBC = ctypes.CDLL(name) if name else False
        except OSError:
            _LIBC = False
    if _LIBC and hasattr(_LIBC, 'malloc_trim'):
        _LIBC.malloc_trim(0)


def _maxrss_kb() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == 'darwin' else rss  # bytes on macOS, KiB on Linux


def cpu_peak_mb(run: Callable[[], None]) -> Tuple[float, str]:
    """Extra resident memory (MiB) while ``run()`` executes, and the method used."""
    gc.collect()
    _malloc_trim()
    before = _proc_status_kb('VmRSS')
    if before is not None and _reset_peak_rss():
        run()
        return (_proc_status_kb('VmHWM') - before) / 1024, 'VmHWM'
    before = _maxrss_kb()
    run()
    return (_maxrss_kb() - before) / 1024, 'ru_maxrss'


def cuda_peak_mb(run: Callable[[], None], device: torch.device) -> Tuple[float, str]:
    """Extra CUDA memory (MiB) allocated at the peak of ``run()``."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20, 'max_memory_allocated'


# ---------------------------------------------------------------------------- measurements

def count_flops(model: nn.Module, size: int, device: torch.device) -> int:
    """FLOPs of one batch-1 forward pass (2 per multiply-add)."""
    try:
        net, x = copy.deepcopy(model).to('meta'), torch.empty(1, 1, size, size, device='meta')
    except (RuntimeError, NotImplementedError):  # pragma: no cover
        net, x = model, torch.zeros(1, 1, size, size, device=device)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(x)
    return counter.get_total_flops()


def _timed_pass(model: nn.Module, x: torch.Tensor, is_cuda: bool) -> float:
    if is_cuda:
        torch.cuda.synchronize(x.device)
    t0 = time.perf_counter()
    model(x)
    if is_cuda:
        torch.cuda.synchronize(x.device)
    return time.perf_counter() - t0


def bench_size(models: Dict[str, nn.Module], size: int, device: torch.device, warmup: int,
               repeats: int) -> List[dict]:
    """Time every network at one input size, their passes interleaved round by round.

    Round ``r`` times one pass of each network in turn, so a stall of a shared CPU (another
    process taking the cores, a frequency change) hits all networks alike instead of whichever
    one happened to be measured at that moment; the ratios between networks then hold better
    than the absolute figures. Each row also keeps its per-round times (``times_ms``) so the
    ratio of two networks can be taken round by round.
    """
    x = torch.randn(1, 1, size, size, device=device)
    is_cuda = device.type == 'cuda'
    times: Dict[str, List[float]] = {name: [] for name in models}
    mems: Dict[str, Tuple[float, str]] = {}
    with torch.inference_mode():
        for name, model in models.items():
            for _ in range(warmup):
                model(x)
            if is_cuda:
                torch.cuda.synchronize(device)

            def once(model: nn.Module = model) -> None:
                model(x)

            mems[name] = cuda_peak_mb(once, device) if is_cuda else cpu_peak_mb(once)
        for _ in range(repeats):
            for name, model in models.items():
                times[name].append(_timed_pass(model, x, is_cuda))

    rows = []
    for name, model in models.items():
        # The median resists the stalls of a shared CPU (other processes taking the cores).
        median = statistics.median(times[name])
        rows.append(dict(
            network=name, device=device.type, size=size, batch=1,
            params=sum(p.numel() for p in model.parameters()),
            gflops=count_flops(model, size, device) / 1e9,
            images_per_s=1.0 / median, ms_per_image=1e3 * median,
            ms_mean=1e3 * statistics.fmean(times[name]),
            times_ms=[1e3 * t for t in times[name]],
            peak_mem_mb=mems[name][0], mem_method=mems[name][1], warmup=warmup,
            repeats=repeats))
    return rows


def throughput_ratio(compact: dict, dnanet: dict) -> dict:
    """CompactUNet / DNANet throughput from their medians, and its per-round spread."""
    per_round = sorted(d / c for c, d in zip(compact['times_ms'], dnanet['times_ms']))
    return dict(throughput_ratio_compact_over_dnanet=(compact['images_per_s']
                                                      / dnanet['images_per_s']),
                per_round_min=per_round[0], per_round_median=statistics.median(per_round),
                per_round_max=per_round[-1])


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads'


def select_devices(device: str) -> List[torch.device]:
    """'cpu', 'cuda', or 'auto' (the CPU, plus the GPU when present); turns cuDNN's autotuner on
    when a GPU is used (the input size is fixed)."""
    devices = [torch.device('cpu')] if device in ('cpu', 'auto') else []
    if device in ('cuda', 'auto') and torch.cuda.is_available():
        devices.append(torch.device('cuda'))
        torch.backends.cudnn.benchmark = True
    return devices


def benchmark_inference(sizes: Sequence[int] = (256, 512), repeats: int = 10, warmup: int = 2,
                        device: str = 'auto', seed: int = 0) -> dict:
    """Benchmark every network of :data:`NETWORKS` at every size on every device.

    Args:
        sizes: Square input sizes.
        repeats: Rounds of timed passes, one per network each (>= 1).
        warmup: Untimed passes before measuring (>= 0).
        device: 'cpu', 'cuda' or 'auto' (see :func:`select_devices`).
        seed: Seeds each network's initial weights.

    Returns:
        ``{"env": {...}, "results": [one row per device, size and network], "ratios": [the
        CompactUNet / DNANet throughput per device and size]}``.
    """
    devices = select_devices(device)
    results: List[dict] = []
    for dev in devices:
        models = {}
        for name, factory in NETWORKS.items():
            torch.manual_seed(seed)
            models[name] = factory().eval().to(dev)
        for size in sizes:
            results.extend(bench_size(models, size, dev, warmup, repeats))
        del models
        if dev.type == 'cuda':
            torch.cuda.empty_cache()

    ratios = []
    for dev in devices:
        for size in sizes:
            r = {row['network']: row for row in results
                 if row['device'] == dev.type and row['size'] == size}
            if 'CompactUNet' in r and 'DNANet' in r:
                ratios.append(dict(device=dev.type, size=size,
                                   **throughput_ratio(r['CompactUNet'], r['DNANet'])))

    return dict(
        env=dict(torch=torch.__version__, python=platform.python_version(),
                 devices={d.type: device_name(d) for d in devices},
                 cpu_threads=torch.get_num_threads()),
        results=results, ratios=ratios)


def format_report(report: dict) -> str:
    """The report as a table, its ratios and what the columns mean."""
    env = report['env']
    lines = [f"torch {env['torch']}, "
             + '; '.join(f'{k}: {v}' for k, v in env['devices'].items())]
    header = (f"{'device':<6} {'size':>5} {'network':<12} {'params(M)':>9} {'GFLOPs':>8} "
              f"{'img/s':>9} {'ms/img':>9} {'peak MiB':>9}")
    lines += [header, '-' * len(header)]
    for r in report['results']:
        lines.append(f"{r['device']:<6} {r['size']:>5} {r['network']:<12} "
                     f"{r['params'] / 1e6:>9.3f} {r['gflops']:>8.2f} {r['images_per_s']:>9.2f} "
                     f"{r['ms_per_image']:>9.2f} {r['peak_mem_mb']:>9.1f}")
    for r in report['ratios']:
        lines.append(f"throughput CompactUNet / DNANet ({r['device']}, {r['size']}x{r['size']}): "
                     f"{r['throughput_ratio_compact_over_dnanet']:.2f}x (round by round "
                     f"{r['per_round_min']:.2f}-{r['per_round_max']:.2f}x)")
    lines.append('peak MiB: extra memory of one forward pass over the resident weights and input '
                 '(CPU: VmHWM reset, CUDA: max_memory_allocated); GFLOPs = 2 x GMACs, '
                 'conv/matmul only')
    return '\n'.join(lines)


def run_command(args: argparse.Namespace) -> int:
    """``tools/benchmarks/bench_infer.py``'s work on its parsed arguments: run, print and
    write (``--json``) the benchmark. Returns the exit status."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise InputError('--device cuda given but CUDA is not available')
    report = benchmark_inference(args.sizes, args.repeats, args.warmup, args.device, args.seed)
    print(format_report(report))
    if args.json:
        write_json(report, args.json)
        print(f'wrote {args.json}')
    return 0
