#!/usr/bin/env python
"""Inference benchmark of the mmgsacp networks: throughput, peak memory, parameters, FLOPs.

Each network (CompactUNet, DNANet, LiteUNet) is its backbone followed by a 1x1 conv to one
logit channel (what the decode head adds), run in eval mode under ``torch.inference_mode`` with
batch 1, fp32. On the CPU the same network, with the same weights, is also exported to ONNX for
each frame size and run in ONNX Runtime on the same frame, in the same rounds.

Usage::

    python tools/benchmarks/bench_infer.py [--json OUT] [--sizes 256 512 640x512]
        [--networks CompactUNet LiteUNet] [--repeats N] [--warmup W]
        [--device cpu|cuda|auto] [--threads T] [--onnx auto|on|off]

``--sizes``: ``N`` for an ``N x N`` frame, ``WxH`` for a ``W`` wide, ``H`` tall one (640x512,
a common infrared sensor; the default sizes are 256, 512 and 640x512). ``--device auto`` (the
default) benchmarks the CPU and, when one is present, the GPU. ``--threads`` (default 2, the
deployment target) is both PyTorch's and ONNX Runtime's thread count. ``--onnx auto`` (the
default) adds the ONNX Runtime column when ``onnx`` and ``onnxruntime`` are installed
(requirements/deploy.txt); ``on`` stops with a message when they are not.

Measurements:

* **throughput**: ``repeats`` rounds after ``warmup`` untimed passes (oneDNN / cuDNN pick and
  cache their kernels during warm-up; ``cudnn.benchmark`` is on because the input size is
  fixed; the GPU is synchronized around each pass). Each round times one pass of every network
  in turn, so a shared CPU's stalls hit all networks alike; images/s = 1 / median latency
  (``ms_mean`` and the per-round ``times_ms`` are in the JSON too; ``ort_*`` for ONNX
  Runtime, and ``ort_over_torch``). The CompactUNet / DNANet and LiteUNet / CompactUNet ratios
  are printed for each runtime with their round-by-round range. On a CPU shared with other
  jobs the absolute numbers move from run to run: compare networks within one run only. At
  batch 1 a GPU pass is largely bound by the launch overhead of its many small kernels. The
  ONNX Runtime column is the CPU's only; its memory is not measured.
* **peak memory**: the extra memory one forward pass needs on top of what is already resident
  (weights, input): activations, workspaces and allocator overhead.

  - CUDA: ``torch.cuda.max_memory_allocated()`` minus ``memory_allocated()`` before the pass
    (after ``reset_peak_memory_stats``).
  - CPU: Python's ``tracemalloc`` does not see torch's C++ allocations, and ``ru_maxrss`` is a
    process-lifetime high-water mark that cannot be reset, so on Linux the kernel's peak RSS
    (``VmHWM`` in ``/proc/self/status``) is reset through ``/proc/self/clear_refs`` right before
    the pass and the pass's peak is ``VmHWM - VmRSS(before)``; freed heap memory is first handed
    back with ``gc.collect()`` + ``malloc_trim(0)`` so an earlier, larger run cannot hide this
    one's growth. Where that reset is unavailable the ``ru_maxrss`` growth is reported instead
    (``mem_method='ru_maxrss'``), a lower bound (0 when an earlier run peaked higher).
* **FLOPs**: ``torch.utils.flop_counter.FlopCounterMode`` over one forward pass of a copy of
  the network on the ``meta`` device (shapes only, no compute). It counts multiply and add
  separately (a conv's FLOPs = 2 x MACs) and only matmul/conv-like ops, not the elementwise
  ones (BN, ReLU, attention products, interpolation). Many papers quote MACs as "FLOPs": halve
  ours to compare. ``GF/MPx`` is per megapixel of frame.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

# The work is mmgsacp.benchmarks.inference.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', metavar='OUT', help='write the results to this JSON file')
    parser.add_argument(
        '--sizes',
        nargs='+',
        default=['256', '512', '640x512'],
        help='frame sizes, N (square) or WxH (default: 256 512 640x512)',
    )
    parser.add_argument(
        '--networks', nargs='+', default=None, help='networks to run (default: all)'
    )
    parser.add_argument(
        '--repeats',
        type=int,
        default=10,
        help='rounds of timed passes, one per network each (default: 10)',
    )
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed forward passes before measuring (default: 2)'
    )
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda', 'auto'],
        default='auto',
        help='auto: the CPU, plus the GPU when present (default)',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='CPU threads of PyTorch and of ONNX Runtime (default: 2)',
    )
    parser.add_argument(
        '--onnx',
        choices=['auto', 'on', 'off'],
        default='auto',
        help='ONNX Runtime column on the CPU: auto = when installed (default)',
    )
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error(f'need --repeats >= 1 and --warmup >= 0, got {args.repeats} and {args.warmup}')
    if args.threads < 1:
        parser.error(f'need --threads >= 1, got {args.threads}')
    args.sizes = [parse_size(text, parser) for text in args.sizes]
    return args


def parse_size(text: str, parser: argparse.ArgumentParser):
    """'N' -> N; 'WxH' -> (H, W)."""
    parts = text.lower().split('x')
    if len(parts) in (1, 2) and all(p.isdigit() and int(p) > 0 for p in parts):
        if len(parts) == 1:
            return int(parts[0])
        return int(parts[1]), int(parts[0])
    parser.error(f'--sizes: {text!r} is neither N nor WxH (e.g. 512 or 640x512)')


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.benchmarks.inference import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
