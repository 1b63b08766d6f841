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

# mmgsacp (and through it torch) is imported in run() after the arguments are parsed, so that
# --help answers at once.

#: ``mmgsacp.evaluation.sweep.SELECT_KEYS``, kept here so that parsing needs no import.
SELECT_KEYS = ('mIoU', 'Pd')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('sweeps', nargs='+', help='pareto.csv files or folders holding one')
    parser.add_argument('--fa', type=float, nargs='+', required=True,
                        help='false-alarm budgets (x1e-6)')
    parser.add_argument('--labels', nargs='+', default=None,
                        help='one name per sweep (default: the folder names)')
    parser.add_argument('--select', choices=SELECT_KEYS, default='mIoU',
                        help='the metric to maximise within each budget')
    parser.add_argument('--min-area', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the curves to this PNG')
    parser.add_argument('--groups', nargs='+', default=None,
                        help='one name per sweep; a group shares one colour in the plot')
    parser.add_argument('--json', default=None)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from mmgsacp.analysis.compare import best_per_budget, load_sweeps, plot_comparison
    from mmgsacp.utils.io import write_json
    curves = load_sweeps(args.sweeps, args.min_area, args.labels, args.groups)
    best = best_per_budget(curves, args.fa, args.select)
    width = max(len(label) for label in curves)
    for fa in args.fa:
        print(f'highest {args.select} with Fa <= {fa:g} (min_area {args.min_area}):')
        print(f"  {'sweep':<{width}}  threshold   mIoU   nIoU     Pd      Fa")
        for label, points in curves.items():
            p = best[label][f'{fa:g}']
            if p is None:
                print(f'  {label:<{width}}  -   (lowest Fa {min(q.Fa for q in points):.1f})')
            else:
                print(f'  {label:<{width}}  {p.threshold:9g}  {p.mIoU:5.2f}  '
                      f'{p.nIoU:5.2f}  {p.Pd:5.2f}  {p.Fa:6.1f}')
    if args.out:
        plot_comparison(curves, args.fa, args.out, args.groups)
        print(f'wrote {args.out}')
    if args.json:
        result = {label: {fa: None if p is None else p._asdict() for fa, p in row.items()}
                  for label, row in best.items()}
        write_json(dict(select=args.select, min_area=args.min_area, budgets=args.fa,
                        best=result), args.json)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package
    return run_tool(run, args)


if __name__ == '__main__':
    sys.exit(main())
