#!/usr/bin/env python
"""Generate a synthetic infrared small-target set in the SIRST3 layout.

    python tools/dataset_converters/make_synthetic.py OUT_DIR [--num-train 160] [--num-test 40]
        [--size 256 256 | --sizes 256x256 192x320] [--seed 0] [--overwrite]

Writes ``images/``, ``masks/``, ``masks_centroid/``, ``masks_coarse/`` and
``img_idx/{train,test}_synthetic.txt``; same arguments give byte-identical files.

Exit status 2 on a usage error (e.g. ``OUT_DIR`` exists and is not empty without
``--overwrite``).
"""

import argparse
import sys
import time

# mmgsacp (and through it torch) is imported in run() after the arguments are parsed, so that
# --help answers at once.


def _size(text: str):
    try:
        h, w = text.lower().split('x')
        return int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected HxW (e.g. 256x256), got {text!r}') from None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to create')
    parser.add_argument('--num-train', type=int, default=160)
    parser.add_argument('--num-test', type=int, default=40)
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), default=(256, 256))
    group.add_argument(
        '--sizes',
        type=_size,
        nargs='+',
        metavar='HxW',
        help='several frame sizes; each frame draws one',
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--empty-prob', type=float, default=0.1)
    parser.add_argument('--max-targets', type=int, default=5)
    parser.add_argument(
        '--overwrite', action='store_true', help='replace OUT_DIR if it exists and is not empty'
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from mmgsacp.datasets.synthetic import make_synthetic_dataset

    start = time.time()
    info = make_synthetic_dataset(
        args.out_dir,
        num_train=args.num_train,
        num_test=args.num_test,
        size=args.sizes if args.sizes else tuple(args.size),
        seed=args.seed,
        empty_prob=args.empty_prob,
        max_targets=args.max_targets,
        overwrite=args.overwrite,
    )
    print(
        f'wrote {len(info["train"])} train + {len(info["test"])} test frames '
        f'({info["num_targets"]} targets, {info["num_empty"]} empty frames) to '
        f'{info["out_dir"]} in {time.time() - start:.1f} s'
    )
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package

    # the library refuses an existing non-empty OUT_DIR with FileExistsError
    return run_tool(run, args, also=(FileExistsError,))


if __name__ == '__main__':
    sys.exit(main())
