#!/usr/bin/env python
"""Count a detector's misses by kind, SIRST3 part and target size, and say whether the point
prior saw the targets it missed.

Every truth target of the list is detected (Pd's centroid rule, at ``--threshold``) or missed as
``unseen`` (no predicted pixel on it), ``split`` (several predicted components on it, none close
enough), ``partial`` (one component over less than half of it) or ``offset`` (one component over
at least half of it, its centroid too far). With ``--prior-config`` each point is also grown
into the prior's core blob (that config's target rule in ``'prior'`` mode, prior-only's label)
and its recall of the true target is given for the detected and the missed targets apart, with
the share of them the prior is blind to (recall below 0.1).

Example::

    python tools/test.py CONFIG CKPT --prob-dir work_dirs/run/probs
    python tools/analysis_tools/analyze_misses.py --prob-dir work_dirs/run/probs \\
        --data-root data/SIRST3 --split data/SIRST3/img_idx/test_SIRST3.txt \\
        --prior-config configs/gsacp/gsacp-final_1k_sirst3.py --json work_dirs/run/misses.json

Exit status: 0 on success, 2 on a usage or data error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

# The work is mmgsacp.analysis.misses.run_command, imported once the arguments are parsed.


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--prob-dir',
        type=Path,
        required=True,
        help='folder of probability maps <stem>.png (16/8-bit) or <stem>.npy',
    )
    parser.add_argument(
        '--data-root',
        type=Path,
        required=True,
        help='SIRST3-layout folder: masks/ (and images/, masks_<point-type>/ for the prior)',
    )
    parser.add_argument(
        '--split', type=Path, default=None, help='file with one stem per line (default: all masks)'
    )
    parser.add_argument(
        '--threshold', type=float, default=0.5, help='target where probability > it (0.5)'
    )
    parser.add_argument(
        '--prior-config',
        type=Path,
        default=None,
        help="config whose target rule gives the prior's core blob (default: no prior columns)",
    )
    parser.add_argument(
        '--point-type',
        choices=('centroid', 'coarse'),
        default='centroid',
        help='point maps the prior grows from (masks_<type>/)',
    )
    parser.add_argument('--json', type=Path, default=None, help='write the counts here')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.misses import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
