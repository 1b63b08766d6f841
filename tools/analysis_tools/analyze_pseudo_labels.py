#!/usr/bin/env python
"""Score the pseudo-masks that points turn into, against the true masks of a training split.

    python tools/analysis_tools/analyze_pseudo_labels.py CONFIG [CHECKPOINT] [--data-root DIR]
        [--limit N] [--kappa 1 2 3] [--beta 0.2 0.3] [--json OUT] [--cfg-options KEY=VALUE ...]

Every image of the config's training set (or ``--limit`` of them, drawn with ``--seed``) gets,
from its point labels, on the whole image, with the config's target settings
(``model.decode_head.target_cfg``, which ``--cfg-options`` can change, e.g.
``model.decode_head.target_cfg.kappa=1``; the method's defaults when the config has none):

* ``prior``: the intensity gate alone (see docs/en/method.md), for every ``--kappa`` x
  ``--beta``;
* ``oracle threshold``: per point, the best single relative intensity threshold *chosen with
  the true mask*: a ceiling for any prior gate (see ``mmgsacp.evaluation.pseudo_labels``);
* ``pal initial``: PAL's model-free initial labels, and its share of easy images;
* with a CHECKPOINT: ``affinity``, the targets its embedding gives once warm-up is over
  (student weights), and ``prediction > 0.5``, the blob of its own prediction holding the point
  (within the same window).

It prints, per part and overall, IoU (total intersection / total union), precision, recall and
the area ratio pseudo / true, and writes them with ``--json``. Ignored pixels (the affinity's
uncertain band) are left out of both pseudo and true pixels. Exit status 2 on a usage or data
error.
"""

from __future__ import annotations

import argparse
import sys

# The work is mmgsacp.analysis.pseudo_labels.run_command. The package, and torch with it, is
# imported only once the arguments are parsed (at the end), so that --help answers at once.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None)
    parser.add_argument(
        '--data-root', default=None, help='override train_dataloader.dataset.data_root'
    )
    parser.add_argument('--limit', type=int, default=None, help='score N images (seeded)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--kappa', type=float, nargs='+', default=None)
    parser.add_argument('--beta', type=float, nargs='+', default=None)
    parser.add_argument('--json', default=None, help='write the scores here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        metavar='KEY=VALUE',
        default=None,
        help="override config keys (values read as MMEngine's DictAction "
        'reads them), e.g. the target settings',
    )
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    from mmgsacp.analysis.pseudo_labels import run_command
    from mmgsacp.utils.io import run_tool

    sys.exit(run_tool(run_command, args))
