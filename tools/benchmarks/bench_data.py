#!/usr/bin/env python
"""Time a training batch of data: per-sample pipeline against the packed split, in one run.

    python tools/benchmarks/bench_data.py [--data-root data/SIRST3]
        [--split img_idx/train_SIRST3.txt] [--pack-file data/packed/SIRST3_train_centroid.npz]
        [--batches 10] [--batch 16] [--json OUT]

Without ``--data-root`` a small synthetic set (256x256 frames) is generated and packed in a
temporary folder. Prints ms per batch of each path and their ratio (per-sample / packed), both
on the CPU.
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import List, Optional

# torch and mmgsacp are imported in run() after the arguments are parsed, so that --help
# answers at once.

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', help='dataset in the SIRST3 layout (default: synthetic)')
    parser.add_argument('--split', default=None, help='training split list in DATA_ROOT')
    parser.add_argument('--pack-file', help='the split packed (written first if absent)')
    parser.add_argument('--batches', type=int, default=10)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', help='write the timings to this JSON file')
    args = parser.parse_args(argv)
    if args.batches < 1 or args.batch < 1 or args.warmup < 0:
        parser.error('need --batches >= 1, --batch >= 1 and --warmup >= 0')
    return args


def run(args: argparse.Namespace) -> dict:
    import torch

    from mmgsacp.benchmarks.data_path import benchmark_data_path
    from mmgsacp.datasets import make_synthetic_dataset, pack_split
    from mmgsacp.utils.io import write_json
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_root, split = args.data_root, args.split
        if data_root is None:
            data_root = osp.join(tmp, 'synthetic')
            make_synthetic_dataset(data_root, num_train=64, num_test=1, size=(256, 256))
            split = split or 'img_idx/train_synthetic.txt'
        split = split or 'img_idx/train_SIRST3.txt'
        pack_file = args.pack_file or osp.join(tmp, 'train.npz')
        if not osp.isfile(pack_file):
            pack_split(data_root, split, pack_file, point_type='centroid')
        result = benchmark_data_path(ROOT, data_root, split, pack_file, args.batches, args.batch,
                                     args.warmup)
    print(f"batch of {result['batch_size']}, {result['batches']} batches, "
          f"{result['threads']} torch threads, CPU")
    print(f"per-sample pipeline: {result['per_sample_ms']:8.1f} ms/batch")
    print(f"packed in memory:    {result['packed_ms']:8.1f} ms/batch")
    print(f"ratio:               {result['ratio']:8.1f}x")
    if args.json:
        write_json(result, args.json)
    return result


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports the package
    return run_tool(run, args, exit=True)


if __name__ == '__main__':
    sys.exit(0 if isinstance(main(), dict) else 1)
