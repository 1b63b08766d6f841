#!/usr/bin/env python
"""Plot drift curves (DriftMonitorHook's ``drift.jsonl``) of one or more runs.

    python tools/analysis_tools/plot_drift.py RUN_DIR [RUN_DIR ...] --out drift.png
        [--smooth 5] [--labels NAME ...]

Each RUN_DIR holds a ``drift.jsonl``; the run is labelled by the folder's name, or by the
matching ``--labels`` entry (one per run). Panels:
pseudo-mask IoU against the true masks, pseudo/true area ratio, share of regions collapsed to
their point, and ignored pixels per pseudo-target pixel. Exit status 1 on a usage or data error.
"""
import argparse
import sys

from mmgsacp.analysis.drift import plot_drift
from mmgsacp.utils.io import InputError, report_error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--out', required=True)
    parser.add_argument('--smooth', type=int, default=5)
    parser.add_argument('--labels', nargs='+', default=None,
                        help='legend names, one per run (default: the folder names)')
    args = parser.parse_args(argv)
    try:
        plot_drift(args.runs, args.out, args.smooth, args.labels)
    except InputError as err:
        return report_error(err, 1)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
