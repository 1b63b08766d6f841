#!/usr/bin/env python
"""Train and test every method on the same budget, and tabulate the field's metrics.

    python tools/benchmarks/bench_quality.py [--methods "all" | "full_sup gsacp_final ..."]
        [--data-root ../shared/data/SIRST3] [--work-dir work_dirs/bench] [--phase all|train|test]

Each method is its CPU-budget config (same network, crop, batch and iteration count), trained
from centroid points on SIRST3 train and tested on test_SIRST3 with its three parts. Results go
to ``<work-dir>/quality.json``::

    {method: {split: {"mIoU", "nIoU", "Pd", "Fa"}, "checkpoint": path, "config": path,
              "train_s": seconds}}

and a markdown table beside it. The file is rewritten (atomically) after every method, so an
interrupted benchmark resumes with the methods not yet finished (a method whose training was
cut short resumes from its last checkpoint). Exit status 2 on a usage or data error or a failed
run (the line names the log of the failed command).
"""

import argparse
import os.path as osp
import sys

# The work is mmgsacp.benchmarks.quality.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The keys of ``mmgsacp.benchmarks.quality.CONFIG_SETS`` and its ``PHASES``, kept here so that
#: parsing needs no import.
CONFIG_SETS = ('cpu', 'synthetic')
PHASES = ('all', 'train', 'test')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', default='all')
    parser.add_argument('--data-root', default=osp.join(ROOT, '..', 'shared', 'data', 'SIRST3'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'bench'))
    parser.add_argument('--config-set', choices=sorted(CONFIG_SETS), default='cpu')
    parser.add_argument(
        '--phase',
        choices=PHASES,
        default='all',
        help='train only, test only (existing checkpoints), or both',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='extra key=value overrides for every method',
    )
    parser.set_defaults(root=ROOT)  # where tools/ and configs/ are
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.benchmarks.quality import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
