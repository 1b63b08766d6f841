#!/usr/bin/env python
"""Time a training batch of data: per-sample pipeline against the packed split, in one run.

    python tools/benchmarks/bench_data.py [--data-root data/SIRST3]
        [--split img_idx/train_SIRST3.txt] [--pack-file data/packed/SIRST3_train_centroid.npz]
        [--batches 10] [--batch 16] [--json OUT]

Without ``--data-root`` a small synthetic set (256x256 frames) is generated and packed in a
temporary folder. Prints ms per batch of each path and their ratio (per-sample / packed), both
on the CPU.
"""

import argparse
import os.path as osp
import sys
from typing import List, Optional

# The work is mmgsacp.benchmarks.data_path.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', help='dataset in the SIRST3 layout (default: synthetic)')
    parser.add_argument('--split', default=None, help='training split list in DATA_ROOT')
    parser.add_argument('--pack-file', help='the split packed (written first if absent)')
    parser.add_argument('--batches', type=int, default=10)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', help='write the timings to this JSON file')
    parser.set_defaults(root=ROOT)  # where configs/ is
    args = parser.parse_args(argv)
    if args.batches < 1 or args.batch < 1 or args.warmup < 0:
        parser.error('need --batches >= 1, --batch >= 1 and --warmup >= 0')
    return args


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.benchmarks.data_path import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
