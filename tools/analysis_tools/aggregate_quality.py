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

# mmgsacp (and through it torch) is imported in run() after the arguments are parsed, so that
# --help answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='quality.json files or their folders')
    parser.add_argument('--split', default='SIRST3', help='test list to summarise')
    parser.add_argument('--methods', default='', help='methods to keep, in order')
    parser.add_argument('--ref', default=None, help='reference method for paired differences')
    parser.add_argument('--out', default=None, help='also write the markdown table here')
    parser.add_argument('--json', default=None, help='also write the statistics here')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from mmgsacp.analysis.aggregate import aggregate, load_runs, markdown
    from mmgsacp.utils.fileio import atomic_write_text
    from mmgsacp.utils.io import write_json
    methods = args.methods.replace(',', ' ').split() or None
    summary = aggregate(load_runs(args.runs), args.split, methods, args.ref)
    table = markdown(summary, args.split, args.ref)
    print(table, end='')
    if args.out:
        atomic_write_text(table, args.out)
    if args.json:
        write_json(summary, args.json)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package
    return run_tool(run, args)


if __name__ == '__main__':
    sys.exit(main())
