#!/usr/bin/env python
"""Evaluate a checkpoint: ``python tools/test.py CONFIG CKPT [--out DIR] [--show-dir DIR]``.

Whole images at original size; prints mIoU / nIoU / Pd / Fa for the test list and each of its
parts. ``--data-roots A B`` evaluates several folders in the SIRST3 layout in one run (one table,
one row per folder).

The checkpoint is read with the weights-only unpickler and loaded strictly: a file that is not
plain data, or whose weights do not fit the config's model (training-only teacher /
auxiliary-head keys aside), is refused, naming the file and the globals or keys, with exit
status 2. ``--unsafe-load-checkpoint`` fully unpickles a trusted legacy file instead.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmgsacp  # noqa: F401
from mmgsacp.utils import atomic_write_text
from mmgsacp.utils.checkpoint import CheckpointError, allow_unsafe_checkpoints
from mmgsacp.utils.dist import setup_cpu_distributed, teardown_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='folder for binary prediction PNGs (<stem>.png, 0/255)')
    parser.add_argument('--prob-dir', help='folder for 16-bit probability PNGs')
    parser.add_argument('--show-dir', help='folder for overlays (hits green, false alarms '
                        'red, misses yellow)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing --out/--prob-dir/--show-dir folders')
    parser.add_argument('--json', help='write the metrics to this JSON file')
    parser.add_argument('--data-roots', nargs='+', metavar='ROOT',
                        help='evaluate these folders (SIRST3 layout: images/, masks/) instead '
                        'of the config\'s test set; each is reported as its own part')
    parser.add_argument('--split', default=None,
                        help='with --data-roots: split list inside each root (default: every '
                        'image in images/)')
    parser.add_argument('--unsafe-load-checkpoint', action='store_true',
                        help='fully unpickle a checkpoint that is not plain data (legacy files '
                        'from a trusted source only: unpickling can run arbitrary code)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs (xxx=yyy format)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def folders_dataset(base: dict, roots, split):
    """A ConcatDataset over SIRST3-layout folders, each one a part named after the folder."""
    parts = []
    for root in roots:
        if not osp.isdir(osp.join(root, 'images')):
            raise FileNotFoundError(f'--data-roots: {root} has no images/ folder')
        ds = dict(base)
        ds.update(data_root=root, ann_file=split or '', point_type=None,
                  part_map=osp.basename(osp.normpath(root)))
        parts.append(ds)
    return dict(type='ConcatDataset', datasets=parts)


def build_cfg(args) -> Config:
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # Scores from a partly loaded model would be silently wrong: every key must match.
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='StrictLoadHook', filename=args.checkpoint)]
    if args.data_roots:
        base = cfg.test_dataloader.dataset.to_dict()
        cfg.test_dataloader.dataset = folders_dataset(base, args.data_roots, args.split)
    if args.out or args.prob_dir or args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='PredictionWriterHook', out_dir=args.out, prob_dir=args.prob_dir,
                 show_dir=args.show_dir, overwrite=args.overwrite)
        ]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.unsafe_load_checkpoint:
        allow_unsafe_checkpoints()
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    try:
        metrics = runner.test()
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    if args.json and runner.rank == 0:
        atomic_write_text(json.dumps(metrics, indent=2, default=float), args.json)
    teardown_distributed()
    return metrics


if __name__ == '__main__':
    main()
