"""Score a folder of saved binary predictions against ground-truth masks (mIoU, nIoU, Pd, Fa).

Both folders hold ``<stem>.png``; a pixel is target where the PNG value is > 127. A file that
holds only 0 and 1 (or has no value above 127) would score as empty under that rule and is
refused naming it; pass ``--mask-scale 01`` (or ``auto``) when the files store target as 1.
An all-zero file is an image without targets. Metrics follow the field's conventions (see
``mmgsacp.evaluation.functional``), overall and per SIRST3 part; the library code is
``mmgsacp.evaluation.mask_folders``.

Example::

    python tools/analysis_tools/eval_masks.py --pred-dir work_dirs/run/preds \\
        --gt-dir ../shared/data/SIRST3/masks \\
        --split ../shared/data/SIRST3/img_idx/test_SIRST3.txt --json work_dirs/run/eval.json

The JSON is strict: an undefined rate (e.g. Pd of a set without targets) is written as null.

Exit status: 0 on success, 2 on a usage or data error (missing predictions, size mismatch,
refused mask values).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

# The work is mmgsacp.evaluation.mask_folders.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

#: ``mmgsacp.datasets.masks.MASK_SCALES``, kept here so that parsing needs no import.
MASK_SCALES = ('255', '01', 'auto')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--pred-dir',
        type=Path,
        required=True,
        help='folder of predicted masks <stem>.png (target where > 127)',
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
    parser.add_argument('--json', type=Path, default=None, help='write the metrics here')
    parser.add_argument(
        '--part-map',
        choices=('auto', 'none'),
        default='auto',
        help='auto: per-part metrics from file names (Misc_* NUAA-SIRST, '
        '6 digits NUDT-SIRST, XDU* IRSTD-1K); none: overall only',
    )
    parser.add_argument(
        '--mask-scale',
        choices=MASK_SCALES,
        default='255',
        help='how both folders store target pixels. 255: value > 127, a file '
        'holding only 0 and 1 is an error; 01: every file is 0/1; auto: a file '
        'whose maximum is 1 is 0/1, any other > 127',
    )
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.evaluation.mask_folders import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
