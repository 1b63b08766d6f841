#!/usr/bin/env python
"""Compare methods at the same false-alarm rate, from their threshold sweeps.

    python tools/analysis_tools/compare_pareto.py SWEEP [SWEEP ...] --fa 150 120
        [--labels NAME ...] [--select mIoU|Pd] [--min-area 0] [--out curves.png]
        [--groups NAME ...] [--json F]

Each SWEEP is a ``pareto.csv`` written by ``tools/analysis_tools/analyze_pareto.py`` (or the
folder holding it). A method's fixed-threshold figures put it at one point of its own
mIoU-vs-Fa curve; a method that reports fewer false alarms may only sit further along the same
trade-off as a higher threshold would put another. For every ``--fa`` budget this prints, per
sweep, the operating point with the highest ``--select`` metric (mIoU by default, Pd for a
detection view) among those with Fa <= budget (threshold, mIoU, nIoU, Pd, Fa), or ``-`` when
none is that low. ``--out`` draws all curves (mIoU and Pd against Fa), with each sweep's
threshold-0.5 point marked; ``--groups`` (one name per sweep) gives the sweeps of one group
(e.g. one method's seeds) one colour and one legend entry. Only the rows of ``--min-area`` are
used.

The thresholds are chosen on the sweep's own images: the table compares trade-offs, it is not
a way to pick a threshold for a test set. Exit status 2 on a usage or data error.
"""

from __future__ import annotations

import argparse
import sys

# The work is mmgsacp.analysis.compare.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

#: ``mmgsacp.evaluation.sweep.SELECT_KEYS``, kept here so that parsing needs no import.
SELECT_KEYS = ('mIoU', 'Pd')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('sweeps', nargs='+', help='pareto.csv files or folders holding one')
    parser.add_argument(
        '--fa', type=float, nargs='+', required=True, help='false-alarm budgets (x1e-6)'
    )
    parser.add_argument(
        '--labels', nargs='+', default=None, help='one name per sweep (default: the folder names)'
    )
    parser.add_argument(
        '--select',
        choices=SELECT_KEYS,
        default='mIoU',
        help='the metric to maximise within each budget',
    )
    parser.add_argument('--min-area', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the curves to this PNG')
    parser.add_argument(
        '--groups',
        nargs='+',
        default=None,
        help='one name per sweep; a group shares one colour in the plot',
    )
    parser.add_argument('--json', default=None)
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.compare import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
