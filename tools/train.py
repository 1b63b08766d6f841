#!/usr/bin/env python
"""Train a segmentor: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]``.

``--resume`` without a path continues from the checkpoint ``WORK_DIR/last_checkpoint`` names,
or, when that pointer is empty or names a missing or truncated file, from the newest complete
``iter_*.pth`` (with a warning). Checkpoints are read with the weights-only unpickler; a
refused, unreadable or unsaveable checkpoint stops with exit status 2 and a message naming the
file. ``--unsafe-load-checkpoint`` fully unpickles a trusted legacy file instead.

Exit status 2 on a usage or data error (missing config or checkpoint, a data root or split
file that is not there, an unreadable or unknown ``--cfg-options`` key), with one line naming
the file, key or option.
"""

import argparse
import os
import os.path as osp
import sys

# Heavy imports (torch, MMEngine, mmgsacp) happen in train() after the arguments are parsed,
# so that --help and usage errors answer at once.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        metavar='CKPT',
        help='resume from CKPT, or (no value) from the latest checkpoint in the work dir',
    )
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='fully unpickle a --resume / load_from checkpoint that is not '
        'plain data (legacy files from a trusted source only: unpickling can '
        'run arbitrary code)',
    )
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed precision training',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        metavar='KEY=VALUE',
        help='override settings in the config, e.g. train_cfg.max_iters=200 '
        "train_dataloader.dataset.data_root=/path/to/SIRST3 (values read as MMEngine's "
        'DictAction reads them)',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args):
    """The config with the command line applied; its data paths checked.

    Raises:
        InputError: A missing or unreadable file, a bad option or data that is not there.
    """
    import logging

    from mmengine.logging import print_log

    from mmgsacp.apis.runner import load_run_config
    from mmgsacp.utils.io import InputError, check_data_paths

    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING,
            )
        else:
            # the schedules' DeferredLogOptimWrapper is OptimWrapper with its clip-norm log
            # deferred; AmpOptimWrapper logs it MMEngine's way
            if optim_wrapper not in ('OptimWrapper', 'DeferredLogOptimWrapper'):
                raise InputError(
                    f'--amp needs OptimWrapper or DeferredLogOptimWrapper, the config has '
                    f'{optim_wrapper}'
                )
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise InputError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    elif cfg.get('load_from') and '://' not in str(cfg.load_from) and not osp.isfile(cfg.load_from):
        raise InputError(
            f'load_from checkpoint not found: {cfg.load_from} (set load_from '
            'with --cfg-options, or load_from=None)'
        )
    loaders = ['train_dataloader']
    if cfg.get('val_cfg'):
        loaders.append('val_dataloader')
    check_data_paths(cfg, loaders)
    return cfg


def train(args) -> None:
    from mmgsacp.apis.runner import run_with_runner

    # Refused, unreadable or unsaveable checkpoints raise CheckpointError naming the file.
    run_with_runner(
        build_cfg(args), args.launcher, lambda runner: runner.train(), args.unsafe_load_checkpoint
    )


def main(argv=None) -> None:
    """Train; a usage or data error ends with one ``error:`` line and ``SystemExit(2)``."""
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports (and registers) the package

    run_tool(train, args, exit=True)


if __name__ == '__main__':
    sys.exit(main())
