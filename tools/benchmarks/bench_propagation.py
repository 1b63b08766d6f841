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

# The work is mmgsacp.benchmarks.propagation.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.


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


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.benchmarks.propagation import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
