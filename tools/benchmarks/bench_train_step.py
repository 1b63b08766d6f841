#!/usr/bin/env python
"""Training speed of full supervision, prior-only and GSACP-Final, as the Runner trains them.

Per method (and crop size, and with ``--dnanet`` also DNANet in place of the compact network)
one short run of the real config on a small generated set prints and writes (``--json``):
``ms_per_iter``, ``host_ms_per_iter``, ``syncs_per_iter``, ``samples_per_s``, ``peak_mem_mib``,
``startup_s``, ``projected_40k_s``, ``data_ms_per_iter`` and ``runner_over_bare`` (the Runner's
iteration over a bare PyTorch loop on the same model and batches, in the same run); see
mmgsacp/benchmarks/train_speed.py for their definitions. Few iterations each: on a busy machine
the timings are indicative only. ``--device cuda [--amp]`` is the same measurement on a GPU
(``--amp``: bf16 autocast, fused AdamW, cuDNN autotuning, i.e. configs/_base_/gpu_fast.py).
``--packed`` trains from the generated split packed in memory, as the ``*-packed`` configs do
(no per-sample decoding, and no per-sample copies to the device); ``--cuda-graph`` replays
each training step from a CUDA graph (``model.cuda_graph``, configs/_base_/gpu_fast.py);
``--channels-last`` stores the network channels-last (``model.channels_last``); ``--compile``
runs the backbone through ``torch.compile`` in training (``model.compile``; the first steps
compile, so raise ``--warmup``).

``--ratios`` prints instead the earlier report: median ms of the model's training step of full
supervision, GSACP-base and GSACP-final and their ratios (``--dnanet``: with the equal-time
DNANet iteration count).

    python tools/benchmarks/bench_train_step.py [--iters 5] [--warmup 2] [--batch 16]
        [--crop 128 [256]] [--device cpu|cuda] [--amp] [--dnanet] [--packed]
        [--cuda-graph] [--channels-last] [--compile] [--json OUT]
    python tools/benchmarks/bench_train_step.py --ratios [--iters 30] [--warmup 5] [--dnanet]
"""

import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

# The work is mmgsacp.benchmarks.train_speed.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once
# (and --device cpu can hide a GPU before torch starts).

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--iters',
        type=int,
        default=None,
        help='timed iterations per method (default 5; 30 with --ratios)',
    )
    parser.add_argument(
        '--warmup',
        type=int,
        default=None,
        help='untimed iterations first (default 2; 5 with --ratios)',
    )
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument(
        '--crop',
        type=int,
        nargs='+',
        default=[128],
        help='training crop sizes, e.g. --crop 128 256',
    )
    parser.add_argument(
        '--methods', nargs='+', default=None, help='subset of full_sup prior_only gsacp_final'
    )
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast + fused AdamW + cuDNN autotuning'
    )
    parser.add_argument(
        '--packed',
        action='store_true',
        help='train from the generated split packed in memory (batch-wise crops on the '
        "model's device) instead of the per-sample pipeline",
    )
    parser.add_argument(
        '--cuda-graph',
        action='store_true',
        help='replay the training steps from CUDA graphs (model.cuda_graph; CUDA only)',
    )
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='store the network channels-last (model.channels_last)',
    )
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the backbone in training (model.compile)',
    )
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument(
        '--dnanet',
        action='store_true',
        help='also measure with DNANet in place of the compact network',
    )
    parser.add_argument(
        '--ratios', action='store_true', help='the earlier ms/ratio report of the model step only'
    )
    parser.add_argument('--json', help='write the report to this JSON file')
    parser.set_defaults(root=ROOT)  # where configs/ is
    args = parser.parse_args(argv)
    if args.iters is None:
        args.iters = 30 if args.ratios else 5
    if args.warmup is None:
        args.warmup = 5 if args.ratios else 2
    if args.iters < 1 or args.warmup < 0 or args.batch < 1 or min(args.crop) < 32:
        parser.error(
            f'need --iters >= 1, --warmup >= 0, --batch >= 1 and --crop >= 32, got '
            f'{args.iters}, {args.warmup}, {args.batch} and {args.crop}'
        )
    if args.cuda_graph and args.device != 'cuda':
        parser.error('--cuda-graph needs --device cuda')
    if args.ratios and (
        args.device != 'cpu'
        or args.amp
        or args.packed
        or args.channels_last
        or args.compile
        or args.crop != [128]
    ):
        parser.error(
            '--ratios measures the CPU model step only '
            '(no --device, --amp, --packed, --channels-last, --compile, --crop)'
        )
    return args


if __name__ == '__main__':
    args = parse_args()
    if args.device == 'cpu':  # before torch is imported: the Runner would take a GPU
        os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
    from mmgsacp.benchmarks.train_speed import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
