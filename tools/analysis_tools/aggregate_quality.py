#!/usr/bin/env python
"""Mean and spread of quality-benchmark results over repeated runs (e.g. seeds).

    python tools/analysis_tools/aggregate_quality.py work_dirs/bench work_dirs/bench_seed1 \\
        work_dirs/bench_seed2 [--split SIRST3] [--methods "prior_only gsacp_ema"]
        [--ref prior_only] [--out summary.md] [--json summary.json]

Each RUN is a ``quality.json`` written by ``tools/benchmarks/bench_quality.py`` or the folder
holding one; one run per seed (or per machine). For every method found, prints the number of
runs and the mean and sample standard deviation of mIoU / nIoU / Pd / Fa on ``--split``. With
``--ref`` each method's mIoU and Fa are also compared with the reference method *within each
run* (same seed, same data order), which removes the part of the spread the two share.
Exit status 2 on a usage or data error.
"""

import argparse
import sys

# The work is mmgsacp.analysis.aggregate.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='quality.json files or their folders')
    parser.add_argument('--split', default='SIRST3', help='test list to summarise')
    parser.add_argument('--methods', default='', help='methods to keep, in order')
    parser.add_argument('--ref', default=None, help='reference method for paired differences')
    parser.add_argument('--out', default=None, help='also write the markdown table here')
    parser.add_argument('--json', default=None, help='also write the statistics here')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.aggregate import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
