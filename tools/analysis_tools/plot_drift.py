#!/usr/bin/env python
"""Plot drift curves (DriftMonitorHook's ``drift.jsonl``) of one or more runs.

    python tools/analysis_tools/plot_drift.py RUN_DIR [RUN_DIR ...] --out drift.png
        [--smooth 5] [--labels NAME ...]

Each RUN_DIR holds a ``drift.jsonl``; the run is labelled by the folder's name, or by the
matching ``--labels`` entry (one per run). One panel per drift scalar the logs hold, in the
order of ``mmgsacp.analysis.drift.PANELS`` (pseudo-mask IoU, area ratio, collapsed regions,
ignored pixels, and the band and negative statistics of the current targets), four to a row;
scalars no log holds are skipped. Exit status 2 on a usage or data error.
"""

import argparse
import sys

# The work is mmgsacp.analysis.drift.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--out', required=True)
    parser.add_argument('--smooth', type=int, default=5)
    parser.add_argument(
        '--labels',
        nargs='+',
        default=None,
        help='legend names, one per run (default: the folder names)',
    )
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.drift import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
