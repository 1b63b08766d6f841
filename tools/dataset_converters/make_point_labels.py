#!/usr/bin/env python
"""Build centroid and coarse point labels from the full masks of a SIRST3-layout set.

    python tools/dataset_converters/make_point_labels.py --data-root R [--mask-dir masks]
        [--seed 0] [--overwrite]

Writes ``R/masks_centroid/`` (floor of each 8-connected target's centroid) and
``R/masks_coarse/`` (centroid plus size-scaled Gaussian jitter, kept on the target), one lit
pixel per target; the rules are those of ``mmgsacp.datasets.points``. Existing non-empty
folders are left alone unless ``--overwrite``.

Exit status 2 on a usage or data error (missing mask folder, existing output folders).
"""

import argparse
import os.path as osp
import sys
import time

# mmgsacp (and through it torch) is imported in run() after the arguments are parsed, so that
# --help answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--mask-dir', default='masks', help='relative to --data-root')
    parser.add_argument('--centroid-dir', default='masks_centroid')
    parser.add_argument('--coarse-dir', default='masks_coarse')
    parser.add_argument('--seed', type=int, default=0, help='seed of the coarse jitter')
    parser.add_argument(
        '--sigma-scale',
        type=float,
        default=0.15,
        help='coarse jitter std per axis, in units of sqrt(target area)',
    )
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from mmgsacp.datasets.points import write_point_label_dirs
    from mmgsacp.utils.io import InputError

    if not osp.isdir(args.data_root):
        raise InputError(f'--data-root {args.data_root} is not a folder')
    start = time.time()
    n = write_point_label_dirs(
        args.data_root,
        mask_dir=args.mask_dir,
        centroid_dir=args.centroid_dir,
        coarse_dir=args.coarse_dir,
        seed=args.seed,
        sigma_scale=args.sigma_scale,
        overwrite=args.overwrite,
    )
    print(
        f'wrote point labels of {n} masks to '
        f'{osp.join(args.data_root, args.centroid_dir)} and '
        f'{osp.join(args.data_root, args.coarse_dir)} in {time.time() - start:.1f} s'
    )
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package

    # the library refuses a missing mask folder and existing output folders with these
    return run_tool(run, args, also=(FileExistsError, FileNotFoundError))


if __name__ == '__main__':
    sys.exit(main())
