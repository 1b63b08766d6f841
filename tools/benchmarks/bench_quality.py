#!/usr/bin/env python
"""Train and test every method on the same budget, and tabulate the field's metrics.

    python tools/benchmarks/bench_quality.py [--methods "all" | "full_sup gsacp_final ..."]
        [--data-root ../shared/data/SIRST3] [--work-dir work_dirs/bench] [--phase all|train|test]
        [--config-set cpu|synthetic|gpu40k|gpu40k-synthetic] [--pack-file FILE.npz]

Each method is its config of the set: by default its CPU-budget config (same network, crop,
batch and iteration count), trained from centroid points on SIRST3 train and tested on
test_SIRST3 with its three parts. ``gpu40k`` is the published budget (40k iterations of batch
16) for full supervision, prior-only, PAL and GSACP-Final, with the GPU switches of
configs/_base_/gpu_fast.py and, except PAL, the packed split in memory (write it first with
tools/dataset_converters/pack_split.py; --pack-file says where it is). The ``-synthetic`` sets
are the same configs on the synthetic set. tools/benchmarks/budget_40k.sh runs ``gpu40k`` from
start to end. Results go to ``<work-dir>/quality.json``::

    {method: {split: {"mIoU", "nIoU", "Pd", "Fa"}, "checkpoint": path, "config": path,
              "train_s": seconds, "test_s": seconds}}

and markdown tables beside it (``quality.md``, ``times.md``). The results file is rewritten
(atomically) after every method, so an interrupted benchmark resumes with the methods not yet
finished (a method whose training was cut short resumes from its last checkpoint). Exit status 2
on a usage or data error or a failed run (the line names the log of the failed command).
"""

import argparse
import os.path as osp
import sys

# The work is mmgsacp.benchmarks.quality.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The keys of ``mmgsacp.benchmarks.quality.CONFIG_SETS`` and its ``PHASES``, kept here so that
#: parsing needs no import.
CONFIG_SETS = ('cpu', 'synthetic', 'gpu40k', 'gpu40k-synthetic')
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
        '--pack-file',
        default='',
        help="packed training split of the methods that train from one (default: the configs' "
        'own, data/packed/SIRST3_train_centroid.npz)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help="extra key=value overrides for every method (after the set's own)",
    )
    parser.set_defaults(root=ROOT)  # where tools/ and configs/ are
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.benchmarks.quality import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
