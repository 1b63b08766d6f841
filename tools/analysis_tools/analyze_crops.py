#!/usr/bin/env python
"""Count the target pixels that training crops cut off from their point.

    python tools/analysis_tools/analyze_crops.py CONFIG [--data-root DIR] [--crops N]
        [--seed S] [--point-margin 0 2 4] [--json OUT] [--cfg-options KEY=VALUE ...]

A crop window can cut a target whose point lies outside it. The visible part of that target
then has no point in the crop, and a point-supervised method trains it as background. This
tool runs the config's training pipeline up to its ``TargetAwareRandomCrop`` on ``--crops``
samples (images drawn uniformly, as the shuffling sampler does; transform randomness seeded
with ``--seed``), and counts, in each crop, the 8-connected components of the true mask that
hold no point within one pixel. Each ``--point-margin`` value is one row, drawn with the same
seed (``TargetAwareRandomCrop(point_margin=M)`` avoids windows with a point just outside).

The first row, ``whole images``, counts the same on uncropped images: components the labels
themselves leave without a point (the floor no crop rule can go below).

Exit status 2 on a usage or data error.
"""

from __future__ import annotations

import argparse
import sys

# The work is mmgsacp.analysis.crops.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--data-root', default=None, help='override train_dataloader.dataset.data_root'
    )
    parser.add_argument('--crops', type=int, default=3000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--point-margin',
        type=int,
        nargs='+',
        default=None,
        help="crop rows to compare (default: the config's own)",
    )
    parser.add_argument('--json', default=None, help='write the counts here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        metavar='KEY=VALUE',
        default=None,
        help="override config keys (values read as MMEngine's DictAction reads them)",
    )
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.crops import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
