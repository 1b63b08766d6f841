"""Decode every image, mask and point map of a SIRST3-layout set and report every problem.

Checks each split file of ``DATA_ROOT/img_idx/`` (or the ``--split`` files named): missing and
undecodable files, image/mask size mismatches, masks or point maps the value rule refuses
(e.g. only 0 and 1), points outside their image or on no target of the mask, duplicate stems,
empty splits, and stems listed in both a train and a test split. Prints one line per problem
naming the file, then a summary (see ``mmgsacp.datasets.check`` for the rules).

Example::

    python tools/analysis_tools/check_data.py ../shared/data/SIRST3
    python tools/analysis_tools/check_data.py ../shared/data/SIRST3 \\
        --split img_idx/train_SIRST3.txt --point-dirs centroid=masks_centroid

Exit status: 0 when the set is clean (notes allowed), 1 when problems were found, 2 on a
usage error (missing data root, folder or split file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

# The work is mmgsacp.datasets.check.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.

#: ``mmgsacp.datasets.masks.MASK_SCALES`` and ``mmgsacp.datasets.point_sirst.
#: DEFAULT_POINT_DIRS``, kept here so that parsing needs no import.
MASK_SCALES = ('255', '01', 'auto')
DEFAULT_POINT_DIRS = {'centroid': 'masks_centroid', 'coarse': 'masks_coarse'}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data_root', help='the set folder (images/, masks/, img_idx/, ...)')
    parser.add_argument(
        '--split',
        action='append',
        default=None,
        help='split file, relative to DATA_ROOT or absolute (repeatable); '
        'default: every img_idx/*.txt, or every image when there is none',
    )
    parser.add_argument('--img-dir', default='images', help='image folder (default: images)')
    parser.add_argument('--mask-dir', default='masks', help='mask folder (default: masks)')
    parser.add_argument('--no-masks', action='store_true', help='the set has no masks')
    parser.add_argument(
        '--point-dirs',
        nargs='+',
        metavar='TYPE=FOLDER',
        default=None,
        help='point-map folders to check (default: '
        + ', '.join(f'{t}={d}' for t, d in DEFAULT_POINT_DIRS.items())
        + ', those that exist)',
    )
    parser.add_argument('--no-points', action='store_true', help='check no point maps')
    parser.add_argument('--suffix', default='.png', help='file suffix of every file (.png)')
    parser.add_argument(
        '--mask-scale',
        choices=MASK_SCALES,
        default='255',
        help='255: target where value > 127, a 0/1 file is a problem; 01: every '
        'mask and point map is 0/1; auto: a file whose maximum is 1 is 0/1',
    )
    parser.add_argument(
        '--point-size-mismatch',
        choices=('rescale', 'error'),
        default='rescale',
        help='a point map of another size than its image: rescaled as the '
        'dataset does by default (a note), or a problem',
    )
    parser.add_argument(
        '--workers', type=int, default=None, help='decoding threads (default: CPU count, at most 8)'
    )
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.datasets.check import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
