#!/usr/bin/env python
"""Time training iterations of full supervision, GSACP-base and GSACP-final in one run.

Same network, batch and crop for the three (the CPU-budget configs, real data pipeline on a small
generated set); the EMA teacher update is part of GSACP-final's step. Prints ms/iter and the
ratios against full supervision measured in the same run.

With ``--dnanet`` it also times full supervision with DNANet in place of the compact network
(same data, batch and crop) and prints how many DNANet iterations take as long as the CPU
budget's 1000 compact ones (JSON keys ``full_sup_dnanet_ms``, ``ratio_dnanet``,
``dnanet_equal_time_iters``).

    python tools/benchmarks/bench_train_step.py [--iters 30] [--warmup 5] [--batch 16]
                                                [--dnanet] [--json OUT]
"""
import argparse
import os.path as osp
from typing import List, Optional

# torch and mmgsacp are imported in run() after the arguments are parsed, so that --help
# answers at once.

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--dnanet', action='store_true',
                        help='also time full supervision with DNANet')
    parser.add_argument('--json', help='write the timings to this JSON file')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.batch < 1:
        parser.error(f'need --iters >= 1, --warmup >= 0 and --batch >= 1, got {args.iters}, '
                     f'{args.warmup} and {args.batch}')
    return args


def run(args: argparse.Namespace) -> dict:
    import torch

    from mmgsacp.benchmarks.train_step import (
        benchmark_train_step,
        cpu_budget_iters,
        train_step_table,
    )
    from mmgsacp.utils.io import write_json
    if args.threads:
        torch.set_num_threads(args.threads)
    result = benchmark_train_step(ROOT, args.iters, args.warmup, args.batch, args.dnanet)
    print('\n'.join(train_step_table(result)))
    print('targets: ratio_base <= 1.10, ratio_final <= 1.35')
    if args.dnanet:
        print(f'DNANet iterations in the time of {cpu_budget_iters(ROOT)} compact ones: '
              f"{result['dnanet_equal_time_iters']}")
    if args.json:
        write_json(result, args.json)
    return result


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark and return its timings; a usage error ends with ``SystemExit(2)``."""
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package
    return run_tool(run, args, exit=True)


if __name__ == '__main__':
    main()
