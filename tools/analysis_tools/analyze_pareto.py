#!/usr/bin/env python
"""Sweep the probability threshold (and a minimum blob area) over saved probability maps and
pick the operating point that meets a false-alarm budget.

Reads ``<stem>.png`` probability maps (16-bit: value / 65535, as ``tools/test.py --prob-dir``
writes them; 8-bit: value / 255) or ``<stem>.npy`` float maps in [0, 1], scores every
(threshold, min_area) point with the project's metric (docs/en/evaluation.md; target where
probability > threshold, predicted components smaller than min_area px dropped first) and
writes:

* ``OUT/pareto.csv``: threshold, min_area, mIoU, nIoU, Pd, Fa (one row per point);
* ``OUT/pareto.png``: Pd vs Fa and mIoU vs Fa, one curve per min_area, the chosen point marked;
* ``OUT/operating_point.json``: the chosen point (null when none meets the budget).

Example::

    python tools/test.py CONFIG CKPT --prob-dir work_dirs/run/probs
    python tools/analysis_tools/analyze_pareto.py --prob-dir work_dirs/run/probs \\
        --gt-dir ../shared/data/SIRST3/masks \\
        --split ../shared/data/SIRST3/img_idx/test_SIRST3.txt \\
        --thresholds 0.05:0.95:0.05 --min-areas 0 2 4 --target-fa 10 --out-dir work_dirs/run/pareto

The output folder is built beside ``OUT`` and moved into place at the end; an existing non-empty
``OUT`` is refused unless ``--overwrite``. Exit status: 0 on success (also when no point meets
the budget, which is reported), 2 on a usage or data error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

# The work is mmgsacp.analysis.pareto.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

#: ``mmgsacp.evaluation.sweep.SELECT_KEYS``, kept here so that parsing needs no import.
SELECT_KEYS = ('mIoU', 'Pd')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--prob-dir',
        type=Path,
        required=True,
        help='folder of probability maps <stem>.png (16/8-bit) or <stem>.npy',
    )
    parser.add_argument(
        '--gt-dir',
        type=Path,
        required=True,
        help='folder of ground-truth masks <stem>.png (target where > 127)',
    )
    parser.add_argument(
        '--split',
        type=Path,
        default=None,
        help='file with one stem per line (default: every PNG in --gt-dir)',
    )
    parser.add_argument(
        '--thresholds',
        nargs='+',
        default=['0.05:0.95:0.05'],
        help="ranges 'start:stop:step' (stop included) and/or single values, "
        'e.g. 0.05:0.95:0.05 0.99 (default 0.05:0.95:0.05)',
    )
    parser.add_argument(
        '--min-areas',
        nargs='+',
        type=int,
        default=[0],
        help='minimum predicted component areas (px) to sweep (default 0)',
    )
    parser.add_argument(
        '--target-fa',
        type=float,
        default=10.0,
        help='false-alarm budget, in units of 1e-6 (default 10)',
    )
    parser.add_argument(
        '--select',
        choices=SELECT_KEYS,
        default='mIoU',
        help='metric maximised among points within the budget (default mIoU)',
    )
    parser.add_argument('--out-dir', type=Path, required=True, help='output folder')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing non-empty --out-dir'
    )
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.pareto import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
