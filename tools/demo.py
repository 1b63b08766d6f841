#!/usr/bin/env python
"""End-to-end demo on the embedded synthetic IR set: data -> train -> checkpoint -> test.

    python tools/demo.py [--config configs/gsacp/gsacp-final_1k_sirst3.py] [--iters N]

Generates ``data/synthetic`` if it is missing, trains the config (its 1000-iteration CPU
budget unless ``--iters``) from point labels on the synthetic set in place of SIRST3, tests the
last checkpoint on the synthetic test list and prints mIoU / nIoU / Pd / Fa with the folders
where predictions and overlays went. Each step is the command a user would
type, printed before it runs.

Exit status 2 on a usage error (e.g. a missing config); when a step fails, that step's own
status, after its output and one line naming the step.
"""

import argparse
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time

# mmgsacp (MMEngine, torch) is imported in demo() after the arguments are parsed, so that
# --help answers at once.

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


class StepFailed(Exception):
    """A step's command ended with a non-zero status (its own output says why)."""

    def __init__(self, cmd, status: int) -> None:
        super().__init__(
            f'{shlex.join(cmd[1:])} failed with exit status {status} (see its output above)'
        )
        self.status = status


def run(cmd):
    print('\n$ ' + ' '.join(shlex.quote(c) for c in cmd), flush=True)
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0:
        raise StepFailed(cmd, done.returncode)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config',
        default='configs/gsacp/gsacp-final_1k_sirst3.py',
        help='method config, relative to the repository root or absolute',
    )
    parser.add_argument(
        '--data-root',
        default='data/synthetic',
        help='where the synthetic set is (generated when missing)',
    )
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, default=None, help='override max_iters')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmgsacp.utils.io import report_error, run_tool  # imports the package

    try:
        return run_tool(demo, args)
    except StepFailed as err:
        return report_error(err, err.status)


def demo(args) -> int:
    from mmgsacp.utils.config import NO_VALIDATION_OPTIONS, synthetic_options
    from mmgsacp.utils.io import InputError

    if not osp.isfile(osp.join(ROOT, args.config)):
        raise InputError(f'--config {args.config}: no such file (under {ROOT})')
    if args.iters is not None and args.iters < 1:
        raise InputError(f'--iters must be >= 1, got {args.iters}')
    py = sys.executable
    start = time.time()
    if not osp.isfile(osp.join(ROOT, args.data_root, 'img_idx', 'train_synthetic.txt')):
        run([py, 'tools/dataset_converters/make_synthetic.py', args.data_root])
    # the method's own config, its data switched to the synthetic set
    data_options = synthetic_options(args.data_root)
    train_options = list(data_options)
    if args.iters:
        train_options.append(f'train_cfg.max_iters={args.iters}')
    # the test step below evaluates the final checkpoint: no validation run in training
    run(
        [py, 'tools/train.py', args.config, '--work-dir', args.work_dir, '--cfg-options']
        + train_options
        + list(NO_VALIDATION_OPTIONS)
    )
    with open(osp.join(ROOT, args.work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    pred_dir = osp.join(args.work_dir, 'predictions')
    show_dir = osp.join(args.work_dir, 'overlays')
    metrics_json = osp.join(args.work_dir, 'test_metrics.json')
    run(
        [
            py,
            'tools/test.py',
            args.config,
            ckpt,
            '--work-dir',
            args.work_dir,
            '--out',
            pred_dir,
            '--show-dir',
            show_dir,
            '--overwrite',
            '--json',
            metrics_json,
            '--cfg-options',
        ]
        + data_options
    )
    with open(osp.join(ROOT, metrics_json)) as f:
        metrics = json.load(f)
    print('\n' + '=' * 60)
    print(f'demo finished in {time.time() - start:.0f} s  ({args.config})')
    print(
        f'  mIoU {metrics["mIoU"]:.2f}   nIoU {metrics["nIoU"]:.2f}   '
        f'Pd {metrics["Pd"]:.2f}   Fa {metrics["Fa"]:.2f} x1e-6'
    )
    print(f'  checkpoint : {ckpt}')
    print(f'  predictions: {pred_dir}/  (score with tools/analysis_tools/eval_masks.py)')
    print(f'  overlays   : {show_dir}/  (green hit, red false alarm, yellow miss)')
    print(f'  drift curve: {osp.join(args.work_dir, "drift.jsonl")}')
    print('=' * 60)
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(main())
