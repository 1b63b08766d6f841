#!/usr/bin/env python
"""Evaluate a checkpoint: ``python tools/test.py CONFIG CKPT [--out DIR] [--show-dir DIR]``.

Whole images at original size; prints mIoU / nIoU / Pd / Fa for the test list and each of its
parts. ``--data-roots A B`` evaluates several folders in the SIRST3 layout in one run (one table,
one row per folder).

The checkpoint is read with the weights-only unpickler and loaded strictly: a file that is not
plain data, or whose weights do not fit the config's model (training-only teacher /
auxiliary-head keys aside), is refused, naming the file and the globals or keys, with exit
status 2. ``--unsafe-load-checkpoint`` fully unpickles a trusted legacy file instead.

``--json`` writes strict JSON: a rate that is undefined on the data (e.g. Pd of a set without
targets, a NaN) is written as ``null``.

Exit status 2 on a usage or data error (missing config or checkpoint, a data root or split
file that is not there, an unreadable or unknown ``--cfg-options`` key, a refused checkpoint),
with one line naming the file, key or option.
"""

import argparse
import os
import os.path as osp

# Heavy imports (torch, MMEngine, mmgsacp) happen in evaluate() after the arguments are parsed,
# so that --help and usage errors answer at once.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='folder for binary prediction PNGs (<stem>.png, 0/255)')
    parser.add_argument('--prob-dir', help='folder for 16-bit probability PNGs')
    parser.add_argument(
        '--show-dir', help='folder for overlays (hits green, false alarms red, misses yellow)'
    )
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing --out/--prob-dir/--show-dir folders',
    )
    parser.add_argument('--json', help='write the metrics to this JSON file')
    parser.add_argument(
        '--data-roots',
        nargs='+',
        metavar='ROOT',
        help='evaluate these folders (SIRST3 layout: images/, masks/) instead '
        "of the config's test set; each is reported as its own part",
    )
    parser.add_argument(
        '--split',
        default=None,
        help='with --data-roots: split list inside each root (default: every image in images/)',
    )
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='fully unpickle a checkpoint that is not plain data (legacy files '
        'from a trusted source only: unpickling can run arbitrary code)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        metavar='KEY=VALUE',
        help='override settings in the config, e.g. '
        "test_dataloader.dataset.data_root=/path/to/SIRST3 (values read as MMEngine's "
        'DictAction reads them)',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def folders_dataset(base: dict, roots, split):
    """A ConcatDataset over SIRST3-layout folders, each one a part named after the folder."""
    from mmgsacp.utils.io import InputError

    parts = []
    for root in roots:
        if not osp.isdir(osp.join(root, 'images')):
            raise InputError(f'--data-roots: {root} has no images/ folder')
        if split and not osp.isfile(osp.join(root, split)):
            raise InputError(f'--split: {root} has no split file {split}')
        ds = dict(base)
        ds.update(
            data_root=root,
            ann_file=split or '',
            point_type=None,
            part_map=osp.basename(osp.normpath(root)),
        )
        parts.append(ds)
    return dict(type='ConcatDataset', datasets=parts)


def build_cfg(args):
    """The config with the command line applied; its data paths checked.

    Raises:
        InputError: A missing or unreadable file, a bad option or data that is not there.
    """
    from mmgsacp.apis.runner import load_run_config
    from mmgsacp.utils.io import InputError, check_data_paths

    if not osp.isfile(args.checkpoint):
        raise InputError(f'checkpoint file not found: {args.checkpoint}')
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # Scores from a partly loaded model would be silently wrong: every key must match.
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='StrictLoadHook', filename=args.checkpoint)
    ]
    if args.data_roots:
        base = cfg.test_dataloader.dataset.to_dict()
        cfg.test_dataloader.dataset = folders_dataset(base, args.data_roots, args.split)
    else:
        check_data_paths(cfg, ['test_dataloader'])
    if args.out or args.prob_dir or args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(
                type='PredictionWriterHook',
                out_dir=args.out,
                prob_dir=args.prob_dir,
                show_dir=args.show_dir,
                overwrite=args.overwrite,
            )
        ]
    return cfg


def evaluate(args) -> dict:
    from mmgsacp.apis.runner import run_with_runner
    from mmgsacp.utils.io import write_json

    def test(runner) -> dict:
        # A refused or mismatched checkpoint raises CheckpointError naming the file.
        metrics = runner.test()
        if args.json and runner.rank == 0:
            write_json(metrics, args.json)
        return metrics

    return run_with_runner(build_cfg(args), args.launcher, test, args.unsafe_load_checkpoint)


def main(argv=None) -> dict:
    """Evaluate and return the metrics; a usage or data error ends with one ``error:`` line
    and ``SystemExit(2)``."""
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports (and registers) the package

    return run_tool(evaluate, args, exit=True)


if __name__ == '__main__':
    main()
