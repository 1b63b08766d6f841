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
from typing import List, Optional, Sequence

# mmgsacp (and through it torch) is imported in run() after the arguments are parsed, so that
# --help answers at once.

#: ``mmgsacp.datasets.masks.MASK_SCALES``, kept here so that parsing needs no import.
MASK_SCALES = ('255', '01', 'auto')

HINT = '--mask-scale 01 (every file is 0/1) or --mask-scale auto (decided per file)'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pred-dir', type=Path, required=True,
                        help='folder of predicted masks <stem>.png (target where > 127)')
    parser.add_argument('--gt-dir', type=Path, required=True,
                        help='folder of ground-truth masks <stem>.png (target where > 127)')
    parser.add_argument('--split', type=Path, default=None,
                        help='file with one stem per line (default: every PNG in --gt-dir)')
    parser.add_argument('--json', type=Path, default=None, help='write the metrics here')
    parser.add_argument('--part-map', choices=('auto', 'none'), default='auto',
                        help='auto: per-part metrics from file names (Misc_* NUAA-SIRST, '
                        '6 digits NUDT-SIRST, XDU* IRSTD-1K); none: overall only')
    parser.add_argument('--mask-scale', choices=MASK_SCALES, default='255',
                        help='how both folders store target pixels. 255: value > 127, a file '
                        'holding only 0 and 1 is an error; 01: every file is 0/1; auto: a file '
                        'whose maximum is 1 is 0/1, any other > 127')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from mmgsacp.evaluation.functional import DEFAULT_SIZE_BINS, summarize
    from mmgsacp.evaluation.mask_folders import build_report, collect_stats
    from mmgsacp.evaluation.metrics.irstd_metric import summary_tables
    from mmgsacp.utils.io import InputError, read_stems, write_json
    for folder, flag in ((args.pred_dir, '--pred-dir'), (args.gt_dir, '--gt-dir')):
        if not folder.is_dir():
            raise InputError(f'{flag} {folder} is not a folder')
    if args.split is not None and not args.split.is_file():
        raise InputError(f'--split {args.split} is not a file')
    grey: List[str] = []
    # a refused file raises EvalError, an InputError naming it: one error line, exit status 2
    stats = collect_stats(args.pred_dir, args.gt_dir, read_stems(args.gt_dir, args.split),
                          args.part_map == 'auto', mask_scale=args.mask_scale, hint=HINT,
                          grey=grey)
    if grey:
        print(f'note: {len(grey)} files hold grey values besides 0 and their maximum (e.g. '
              f'{grey[0]}); pixels > 127 are target', file=sys.stderr)
    overall, per_part = summarize(stats)
    set_name = args.split.stem if args.split is not None else 'all'
    print(summary_tables(overall, per_part, DEFAULT_SIZE_BINS, set_name=set_name))
    if args.json is not None:
        write_json(build_report(stats), args.json)
        print(f'wrote {args.json}')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package
    return run_tool(run, args)


if __name__ == '__main__':
    sys.exit(main())
