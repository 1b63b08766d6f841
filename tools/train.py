#!/usr/bin/env python
"""Train a segmentor: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]``.

``--resume`` without a path continues from the checkpoint ``WORK_DIR/last_checkpoint`` names,
or, when that pointer is empty or names a missing or truncated file, from the newest complete
``iter_*.pth`` (with a warning). Checkpoints are read with the weights-only unpickler; a
refused, unreadable or unsaveable checkpoint stops with exit status 2 and a message naming the
file. ``--unsafe-load-checkpoint`` fully unpickles a trusted legacy file instead.
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

import mmgsacp  # noqa: F401  (registers components; configs import it too)
from mmgsacp.utils.checkpoint import CheckpointError, allow_unsafe_checkpoints
from mmgsacp.utils.dist import setup_cpu_distributed, teardown_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None, metavar='CKPT',
        help='resume from CKPT, or (no value) from the latest checkpoint in the work dir')
    parser.add_argument('--unsafe-load-checkpoint', action='store_true',
                        help='fully unpickle a --resume / load_from checkpoint that is not '
                        'plain data (legacy files from a trusted source only: unpickling can '
                        'run arbitrary code)')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic mixed precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs (xxx=yyy format)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args) -> Config:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ValueError(f'--amp needs OptimWrapper, the config has {optim_wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.unsafe_load_checkpoint:
        allow_unsafe_checkpoints()
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    except CheckpointError as err:
        # Refused, unreadable or unsaveable checkpoints: the message says which file and why.
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    teardown_distributed()


if __name__ == '__main__':
    main()
