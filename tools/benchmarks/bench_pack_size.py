#!/usr/bin/env python
"""How small a packed split can be: lossless codecs and entropy bounds on a sample of a split.

    python tools/benchmarks/bench_pack_size.py DATA_ROOT [--split img_idx/train_SIRST3.txt]
        [--every 16] [--codecs NAME ...] [--json OUT]

Reads every EVERY-th image of the split as the packed split reads it, and prints a table: bits
per pixel, ratio to the raw bytes, the size projected to the whole split, exactness of the
round trip, and encode/decode seconds of each codec; and the entropy of the median edge
detector's residuals (order 0 and with an activity context), the size an ideal coder of that
kind would reach (mmgsacp/benchmarks/pack_size.py).
"""

import argparse
import sys
from typing import List, Optional

# The work is mmgsacp.benchmarks.pack_size.run_command, imported once the arguments are parsed.


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='dataset folder in the SIRST3 layout')
    parser.add_argument('--split', default='img_idx/train_SIRST3.txt')
    parser.add_argument('--every', type=int, default=16, help='measure every N-th image')
    parser.add_argument('--codecs', nargs='+', default=None, help='codecs to run (default all)')
    parser.add_argument('--json', help='write the table to this JSON file')
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error('--every must be >= 1')
    return args


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.benchmarks.pack_size import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args, also=(FileNotFoundError, ValueError)))
