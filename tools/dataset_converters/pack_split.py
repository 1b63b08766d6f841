#!/usr/bin/env python
"""Pack one split of a SIRST3-layout dataset into a compressed .npz for in-memory training.

    python tools/dataset_converters/pack_split.py DATA_ROOT --split img_idx/train_SIRST3.txt
        --out data/packed/SIRST3_train_centroid.npz [--point-type centroid|coarse|mask]
        [--mask-scale 255|01|auto] [--no-masks]

Images, full masks and point labels are decoded once with the dataset's own loaders and written
losslessly (images as WebP streams, masks one bit a pixel; format in
mmgsacp/datasets/packed.py); configs/_base_/datasets/sirst3_packed.py trains from the file.
The file is written atomically (temporary file, fsync, rename).

Exit status 2 on a problem to fix (a missing split or file, an unreadable mask, a non-8-bit
image), with one ``error:`` line naming it.
"""

import argparse
import sys
import time

# mmgsacp (and through it torch) is imported in run() after the arguments are parsed, so that
# --help answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='dataset folder in the SIRST3 layout')
    parser.add_argument(
        '--split', default='img_idx/train_SIRST3.txt', help='split list relative to DATA_ROOT'
    )
    parser.add_argument('--out', required=True, help='the .npz to write')
    parser.add_argument(
        '--point-type',
        default='centroid',
        help="point labels to pack: 'centroid', 'coarse' or 'mask'",
    )
    parser.add_argument(
        '--mask-scale',
        default='255',
        choices=('255', '01', 'auto'),
        help='how masks store target pixels (mmgsacp/datasets/masks.py)',
    )
    parser.add_argument(
        '--no-masks',
        action='store_true',
        help='leave the full masks out (no drift monitor, no full supervision)',
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from mmgsacp.datasets.packed import pack_split

    start = time.time()
    info = pack_split(
        args.data_root,
        args.split,
        args.out,
        point_type=args.point_type,
        mask_scale=args.mask_scale,
        with_masks=not args.no_masks,
    )
    print(
        f'packed {info["num_images"]} images ({info["num_pixels"] / 1e6:.1f} M pixels, '
        f'{info["num_points"]} {args.point_type} points) into {info["out"]}: '
        f'{info["bytes"] / 2**20:.1f} MiB in {time.time() - start:.1f} s'
    )
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package

    # the dataset raises FileNotFoundError / ValueError naming the split or file at fault
    return run_tool(run, args, also=(FileNotFoundError, ValueError))


if __name__ == '__main__':
    sys.exit(main())
