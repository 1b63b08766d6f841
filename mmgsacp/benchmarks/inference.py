"""Inference benchmark of the mmgsacp networks: throughput, peak memory, parameters, FLOPs.

Each network is its backbone followed by a 1x1 conv to one logit channel (what the decode
head adds), run in eval mode under ``torch.inference_mode`` with batch 1, fp32; on the CPU the
same network, exported to ONNX for the frame size, also runs in ONNX Runtime on the same frame
(when ``onnx`` and ``onnxruntime`` are installed).

* **throughput**: ``repeats`` rounds after ``warmup`` untimed passes (oneDNN / cuDNN pick and
  cache their kernels during warm-up; ``cudnn.benchmark`` is on because the input size is
  fixed; the GPU is synchronized around each pass). Each round times one pass of every network
  in turn (PyTorch, then ONNX Runtime), so a shared CPU's stalls hit all networks alike;
  images/s = 1 / median latency (``ms_mean`` and the per-round ``times_ms`` are in the report
  too).
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
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from mmgsacp.models.backbones import CompactUNet, DNANet, LiteUNet
from mmgsacp.utils.io import InputError, write_json
from mmgsacp.utils.misc import hw_pair

#: A frame size: ``N`` (square) or ``(H, W)``.
Size = Union[int, Sequence[int]]


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
    'LiteUNet': lambda: WithHead(LiteUNet(in_channels=1)),
    # configs/full_sup/full-sup_liteunet-c192_1k_sirst3.py's network: the deepest level wider
    'LiteUNet-c192': lambda: WithHead(LiteUNet(in_channels=1, channels=(16, 32, 64, 192))),
}

#: (numerator, denominator) of the throughput ratios the report states, where both were run.
RATIO_PAIRS: Tuple[Tuple[str, str], ...] = (
    ('CompactUNet', 'DNANet'),
    ('LiteUNet', 'CompactUNet'),
    ('LiteUNet-c192', 'CompactUNet'),
)


def as_hw(size: Size) -> Tuple[int, int]:
    """``N`` -> ``(N, N)``; ``(H, W)`` as is (positive integers)."""
    return hw_pair(size, name='a frame size')


def size_label(size: Size) -> str:
    """``'WxH'``, as sensor sizes are written (``(512, 640)`` -> ``'640x512'``)."""
    h, w = as_hw(size)
    return f'{w}x{h}'


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


def count_flops(model: nn.Module, size: Size, device: torch.device) -> int:
    """FLOPs of one batch-1 forward pass on an ``N x N`` or ``(H, W)`` frame (2 per
    multiply-add; a depthwise conv counts its per-group channels only)."""
    h, w = as_hw(size)
    try:
        net, x = copy.deepcopy(model).to('meta'), torch.empty(1, 1, h, w, device='meta')
    except (RuntimeError, NotImplementedError):  # pragma: no cover
        net, x = model, torch.zeros(1, 1, h, w, device=device)
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


def _timed_run(session: Any, feed: Dict[str, Any]) -> float:
    t0 = time.perf_counter()
    session.run(None, feed)
    return time.perf_counter() - t0


def ort_sessions(models: Dict[str, nn.Module], size: Size, threads: int) -> Dict[str, Any]:
    """Each network exported to ONNX for a fixed ``size`` frame and opened in ONNX Runtime
    (``threads`` intra-op threads, every graph optimisation)."""
    from mmgsacp.apis.onnx_export import onnx_bytes, ort_session

    h, w = as_hw(size)
    return {
        name: ort_session(
            onnx_bytes(copy.deepcopy(model).cpu(), (1, 1, h, w), output_name='logits'), threads
        )
        for name, model in models.items()
    }


def _stats(times: List[float]) -> dict:
    # The median resists the stalls of a shared CPU (other processes taking the cores).
    median = statistics.median(times)
    return dict(
        images_per_s=1.0 / median,
        ms_per_image=1e3 * median,
        ms_mean=1e3 * statistics.fmean(times),
        times_ms=[1e3 * t for t in times],
    )


def bench_size(
    models: Dict[str, nn.Module],
    size: Size,
    device: torch.device,
    warmup: int,
    repeats: int,
    sessions: Optional[Dict[str, Any]] = None,
) -> List[dict]:
    """Time every network at one frame size, their passes interleaved round by round.

    Round ``r`` times one pass of each network in turn (its PyTorch pass, then its ONNX
    Runtime pass when ``sessions`` has it), so a stall of a shared CPU (another process taking
    the cores, a frequency change) hits all networks and both runtimes alike instead of
    whichever one happened to be measured at that moment; the ratios between them then hold
    better than the absolute figures. Each row also keeps its per-round times (``times_ms``,
    ``ort_times_ms``) so that ratios can be taken round by round.

    Args:
        models: Networks by name, in eval mode on ``device``.
        size: ``N`` or ``(H, W)``.
        device: Where the PyTorch passes run.
        warmup: Untimed passes of each network (and session) first.
        repeats: Timed rounds.
        sessions: ONNX Runtime sessions of the same networks (same weights) for this size, by
            name (:func:`ort_sessions`), or None. They get the same frame.

    Returns:
        One row per network. With a session, its ``ort_*`` entries (images/s, ms, per-round
        times) and ``ort_over_torch``, the ratio of the two throughputs.
    """
    h, w = as_hw(size)
    x = torch.randn(1, 1, h, w, device=device)
    sessions = sessions or {}
    feed = {'image': x.cpu().numpy()}
    is_cuda = device.type == 'cuda'
    times: Dict[str, List[float]] = {name: [] for name in models}
    ort_times: Dict[str, List[float]] = {name: [] for name in sessions}
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
        for session in sessions.values():
            for _ in range(warmup):
                session.run(None, feed)
        for _ in range(repeats):
            for name, model in models.items():
                times[name].append(_timed_pass(model, x, is_cuda))
                if name in sessions:
                    ort_times[name].append(_timed_run(sessions[name], feed))

    rows = []
    for name, model in models.items():
        flops = count_flops(model, (h, w), device)
        row = dict(
            network=name,
            device=device.type,
            size=size_label((h, w)),
            height=h,
            width=w,
            batch=1,
            params=sum(p.numel() for p in model.parameters()),
            gflops=flops / 1e9,
            gflops_per_mpx=flops / (h * w) / 1e3,
            **_stats(times[name]),
            peak_mem_mb=mems[name][0],
            mem_method=mems[name][1],
            warmup=warmup,
            repeats=repeats,
        )
        if name in sessions:
            ort = _stats(ort_times[name])
            row.update({f'ort_{k}': v for k, v in ort.items()})
            row['ort_over_torch'] = ort['images_per_s'] / row['images_per_s']
        rows.append(row)
    return rows


def throughput_ratio(num: dict, den: dict, runtime: str = 'torch') -> dict:
    """Throughput of row ``num`` over row ``den`` from their medians, and its spread round by
    round.

    Args:
        num, den: Rows of :func:`bench_size` (same run, size and device).
        runtime: ``'torch'`` (``images_per_s``, ``times_ms``) or ``'ort'`` (their ``ort_``
            counterparts).

    Returns:
        ``ratio``, ``per_round_min``, ``per_round_median``, ``per_round_max``.
    """
    prefix = {'torch': '', 'ort': 'ort_'}[runtime]
    per_round = sorted(d / n for n, d in zip(num[f'{prefix}times_ms'], den[f'{prefix}times_ms']))
    return dict(
        ratio=num[f'{prefix}images_per_s'] / den[f'{prefix}images_per_s'],
        per_round_min=per_round[0],
        per_round_median=statistics.median(per_round),
        per_round_max=per_round[-1],
    )


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


def benchmark_inference(
    sizes: Sequence[Size] = (256, 512, (512, 640)),
    repeats: int = 10,
    warmup: int = 2,
    device: str = 'auto',
    seed: int = 0,
    onnx: Optional[bool] = None,
    threads: int = 2,
    networks: Optional[Sequence[str]] = None,
) -> dict:
    """Benchmark networks of :data:`NETWORKS` at every size on every device.

    Args:
        sizes: Frame sizes, ``N`` (square) or ``(H, W)``.
        repeats: Rounds of timed passes, one per network each (>= 1).
        warmup: Untimed passes before measuring (>= 0).
        device: 'cpu', 'cuda' or 'auto' (see :func:`select_devices`).
        seed: Seeds each network's initial weights.
        onnx: Add the ONNX Runtime column on the CPU: True (an ImportError names
            requirements/deploy.txt when a package is missing), False, or None (when
            ``onnx`` and ``onnxruntime`` are installed).
        threads: ONNX Runtime's intra-op threads (PyTorch's are the caller's to set, as
            tools/benchmarks/bench_infer.py does with the same value).
        networks: Names from :data:`NETWORKS` (default: all).

    Returns:
        ``{"env": {...}, "results": [one row per device, size and network], "ratios": [the
        throughput ratios of :data:`RATIO_PAIRS` per device, size and runtime]}``.
    """
    from mmgsacp.apis.onnx_export import onnx_available, require_onnx, require_onnxruntime

    names = list(NETWORKS) if networks is None else list(networks)
    unknown = [n for n in names if n not in NETWORKS]
    if unknown or not names:
        raise ValueError(f'unknown network(s) {unknown}; choose from {list(NETWORKS)}')
    if onnx:
        require_onnx()
        require_onnxruntime()
    use_ort = onnx_available() if onnx is None else bool(onnx)
    devices = select_devices(device)
    results: List[dict] = []
    for dev in devices:
        models = {}
        for name in names:
            torch.manual_seed(seed)
            models[name] = NETWORKS[name]().eval().to(dev)
        for size in sizes:
            sessions = (
                ort_sessions(models, size, threads) if use_ort and dev.type == 'cpu' else None
            )
            results.extend(bench_size(models, size, dev, warmup, repeats, sessions))
        del models
        if dev.type == 'cuda':
            torch.cuda.empty_cache()

    ratios = []
    for dev in devices:
        for size in sizes:
            label = size_label(size)
            r = {
                row['network']: row
                for row in results
                if row['device'] == dev.type and row['size'] == label
            }
            for num, den in RATIO_PAIRS:
                if num not in r or den not in r:
                    continue
                for runtime in ('torch', 'ort'):
                    if runtime == 'ort' and 'ort_times_ms' not in r[num]:
                        continue
                    ratios.append(
                        dict(
                            device=dev.type,
                            size=label,
                            runtime=runtime,
                            numerator=num,
                            denominator=den,
                            **throughput_ratio(r[num], r[den], runtime),
                        )
                    )

    env = dict(
        torch=torch.__version__,
        python=platform.python_version(),
        devices={d.type: device_name(d) for d in devices},
        cpu_threads=torch.get_num_threads(),
    )
    if use_ort:
        import onnxruntime

        env.update(onnxruntime=onnxruntime.__version__, ort_threads=threads)
    return dict(env=env, results=results, ratios=ratios)


def format_report(report: dict) -> str:
    """The report as a table, its ratios and what the columns mean."""
    env = report['env']
    lines = [
        f'torch {env["torch"]}, '
        + '; '.join(f'{k}: {v}' for k, v in env['devices'].items())
        + (
            f'; onnxruntime {env["onnxruntime"]}, {env["ort_threads"]} threads'
            if 'onnxruntime' in env
            else '; onnxruntime: not run'
        )
    ]
    header = (
        f'{"device":<6} {"WxH":>9} {"network":<12} {"params(M)":>9} {"GFLOPs":>7} '
        f'{"GF/MPx":>7} {"img/s":>8} {"ms/img":>8} {"ORT img/s":>9} {"ORT/pt":>6} '
        f'{"peak MiB":>8}'
    )
    lines += [header, '-' * len(header)]
    for r in report['results']:
        ort = (
            f'{r["ort_images_per_s"]:>9.2f} {r["ort_over_torch"]:>6.2f}'
            if 'ort_images_per_s' in r
            else f'{"-":>9} {"-":>6}'
        )
        lines.append(
            f'{r["device"]:<6} {r["size"]:>9} {r["network"]:<12} '
            f'{r["params"] / 1e6:>9.3f} {r["gflops"]:>7.2f} {r["gflops_per_mpx"]:>7.2f} '
            f'{r["images_per_s"]:>8.2f} {r["ms_per_image"]:>8.2f} {ort} '
            f'{r["peak_mem_mb"]:>8.1f}'
        )
    for r in report['ratios']:
        runtime = 'ONNX Runtime' if r['runtime'] == 'ort' else 'PyTorch'
        lines.append(
            f'throughput {r["numerator"]} / {r["denominator"]} ({runtime}, '
            f'{r["device"]}, {r["size"]}): {r["ratio"]:.2f}x (round by round '
            f'{r["per_round_min"]:.2f}-{r["per_round_max"]:.2f}x)'
        )
    lines.append(
        'WxH: frame width x height; GF/MPx: GFLOPs per megapixel; ORT/pt: ONNX Runtime '
        'over PyTorch images/s, same network and frame; peak MiB (PyTorch): extra '
        'memory of one forward pass over the resident weights and input (CPU: VmHWM '
        'reset, CUDA: max_memory_allocated); GFLOPs = 2 x GMACs, conv/matmul only. '
        'Compare figures within one run: a shared CPU moves them between runs.'
    )
    return '\n'.join(lines)


def run_command(args: argparse.Namespace) -> int:
    """``tools/benchmarks/bench_infer.py``'s work on its parsed arguments: run, print and
    write (``--json``) the benchmark. Returns the exit status."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise InputError('--device cuda given but CUDA is not available')
    onnx = {'auto': None, 'on': True, 'off': False}[args.onnx]
    try:
        report = benchmark_inference(
            args.sizes,
            args.repeats,
            args.warmup,
            args.device,
            args.seed,
            onnx=onnx,
            threads=args.threads,
            networks=args.networks,
        )
    except (ImportError, ValueError) as err:
        raise InputError(
            f'--onnx on: {err}' if isinstance(err, ImportError) else f'--networks: {err}'
        ) from err
    print(format_report(report))
    if args.json:
        write_json(report, args.json)
        print(f'wrote {args.json}')
    return 0
