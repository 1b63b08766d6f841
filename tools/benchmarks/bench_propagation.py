#!/usr/bin/env python
"""Micro-benchmark of the online point-to-mask targets (and the contrastive loss).

A training-sized batch (default 16 x 1 x 128 x 128, D = 16, P = 24 points, R = 16) of
synthetic bright blobs with a noisy embedding. For each setting it prints ms per call of the
batched ``generate_point_targets`` and of a naive per-point Python loop over the same points
(one call per point), measured in the same run, and their ratio; it checks that both give the
same regions.

    python tools/benchmarks/bench_propagation.py [--points 24] [--iters 30] [--threads 1]
                                                 [--device cpu]
"""
import argparse
import sys

# torch and mmgsacp are imported in run() after the arguments are parsed, so that --help
# answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--channels', type=int, default=16)
    parser.add_argument('--points', type=int, default=24)
    parser.add_argument('--radius', type=int, default=16)
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', default=None, help='also write the results here')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    import torch

    from mmgsacp.benchmarks.propagation import benchmark_propagation, propagation_table
    from mmgsacp.utils.io import InputError, write_json
    for flag in ('batch', 'size', 'channels', 'points', 'radius', 'iters'):
        if getattr(args, flag) < 1:
            raise InputError(f'--{flag} must be >= 1, got {getattr(args, flag)}')
    try:
        torch.device(args.device)
    except RuntimeError as err:
        raise InputError(f'--device {args.device!r}: {err}') from err
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    print(f'B={args.batch} H=W={args.size} D={args.channels} P={args.points} '
          f'R={args.radius} device={args.device} threads={torch.get_num_threads()}')
    results = benchmark_propagation(args.batch, args.size, args.channels, args.points,
                                    args.radius, args.iters, args.device)
    print('\n'.join(propagation_table(results)))
    if args.json:
        write_json(dict(vars(args), results=results), args.json)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package
    return run_tool(run, args)


if __name__ == '__main__':
    sys.exit(main())
