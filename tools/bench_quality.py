#!/usr/bin/env python
"""Train and test every method on the same budget, and tabulate the field's metrics.

    python tools/bench_quality.py [--methods "all" | "full_sup gsacp_final ..."]
        [--data-root ../shared/data/SIRST3] [--work-dir work_dirs/bench] [--phase all|train|test]

Each method is its CPU-budget config (same network, crop, batch and iteration count), trained
from centroid points on SIRST3 train and tested on test_SIRST3 with its three parts. Results go
to ``<work-dir>/quality.json``::

    {method: {split: {"mIoU", "nIoU", "Pd", "Fa"}, "checkpoint": path, "config": path,
              "train_s": seconds}}

and a markdown table beside it. The file is rewritten (atomically) after every method, so an
interrupted benchmark resumes with the methods not yet finished (a method whose training was
cut short resumes from its last checkpoint).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmgsacp.utils.config import NO_VALIDATION_OPTIONS, synthetic_options  # noqa: E402
from mmgsacp.utils.fileio import atomic_write_text  # noqa: E402

#: method -> config (the CPU budget: same network, crop, batch and iteration count).
CPU_CONFIGS = {
    'full_sup': 'configs/full_sup/full-sup_1k_sirst3.py',
    'point_only': 'configs/point_only/point-only_1k_sirst3.py',
    'prior_only': 'configs/prior_only/prior-only_1k_sirst3.py',
    'lesps': 'configs/lesps/lesps_1k_sirst3.py',
    'gsacp_base': 'configs/gsacp/gsacp-base_1k_sirst3.py',
    'gsacp_ema': 'configs/gsacp/gsacp-ema_1k_sirst3.py',
    'gsacp_hbc': 'configs/gsacp/gsacp-hbc_1k_sirst3.py',
    'gsacp_asg': 'configs/gsacp/gsacp-asg_1k_sirst3.py',
    'gsacp_final': 'configs/gsacp/gsacp-final_1k_sirst3.py',
    # not in 'all': a variant of the final rung (its contrastive loss pulls the ignore band)
    'gsacp_final_pullband': 'configs/gsacp/gsacp-final-pullband_1k_sirst3.py',
    # not in 'all': full supervision on DNANet, the reference for the compact network
    'full_sup_dnanet': 'configs/full_sup/full-sup_dnanet_1k_sirst3.py',
    # not in 'all': DNANet with as much training time as the compact network (250 iterations)
    'full_sup_dnanet_time': 'configs/full_sup/full-sup_dnanet_1k-time_sirst3.py',
    # not in 'all': both networks with deep supervision (auxiliary heads, training only)
    'full_sup_ds': 'configs/full_sup/full-sup-ds_1k_sirst3.py',
    'full_sup_dnanet_ds': 'configs/full_sup/full-sup-ds_dnanet_1k_sirst3.py',
}
#: method -> config, for each benchmark set: the same configs, on SIRST3 or with their data
#: switched to the synthetic set (DATASET_OPTIONS).
CONFIG_SETS = {
    'cpu': CPU_CONFIGS,
    'synthetic': {m: CPU_CONFIGS[m] for m in (
        'full_sup', 'point_only', 'prior_only', 'lesps', 'gsacp_base', 'gsacp_ema', 'gsacp_hbc',
        'gsacp_asg', 'gsacp_final')},
}
#: --cfg-options that put every config of a set on its data (--data-root then says where).
DATASET_OPTIONS = {'cpu': [], 'synthetic': synthetic_options()}
SPLIT_NAMES = {'cpu': 'SIRST3', 'synthetic': 'synthetic'}
PARTS = ('NUAA-SIRST', 'NUDT-SIRST', 'IRSTD-1K')
KEYS = ('mIoU', 'nIoU', 'Pd', 'Fa')


#: what 'all' means: the benchmark's standard methods, in table order.
DEFAULT_METHODS = ('full_sup', 'point_only', 'prior_only', 'lesps', 'gsacp_base', 'gsacp_ema',
                   'gsacp_hbc', 'gsacp_asg', 'gsacp_final')


def parse_methods(text: str, known) -> list:
    names = [m for m in DEFAULT_METHODS if m in known] if text.strip() in ('', 'all') \
        else text.replace(',', ' ').split()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown method(s) {', '.join(unknown)}; known methods: "
                         f"{', '.join(known)}")
    return names


def check_data_root(root: str, config_set: str) -> None:
    split = 'img_idx/train_SIRST3.txt' if config_set == 'cpu' else 'img_idx/train_synthetic.txt'
    if not osp.isfile(osp.join(root, split)):
        where = ('SIRST3 is expected at ../shared/data/SIRST3 (beside the repository); point '
                 'to it with --data-root DIR or `make bench-quality DATA_ROOT=DIR`'
                 if config_set == 'cpu' else
                 'make one with `python tools/make_synthetic.py DIR`')
        raise SystemExit(f'error: no data set at {root} ({split} missing). {where}')


def run(cmd, log_path):
    print('$ ' + ' '.join(cmd), flush=True)
    with open(log_path, 'a') as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f'error: command failed (exit {proc.returncode}); see {log_path}')


def metrics_by_split(metrics: dict, split_name: str) -> dict:
    out = {split_name: {k: metrics[k] for k in KEYS}}
    for part in PARTS:
        if f'{part}/mIoU' in metrics:
            out[part] = {k: metrics[f'{part}/{k}'] for k in KEYS}
    return out


def markdown(results: dict, split_name: str) -> str:
    splits = [split_name] + [p for p in PARTS if any(p in r for r in results.values())]
    head = '| method | ' + ' | '.join(
        f'{s} mIoU / nIoU / Pd / Fa' if s == split_name else f'{s} mIoU' for s in splits) + \
        ' | train s |'
    lines = [head, '|' + '---|' * (len(splits) + 2)]
    order = [m for m in DEFAULT_METHODS if m in results] + sorted(
        m for m in results if m not in DEFAULT_METHODS)
    for method in order:
        r = results[method]
        if split_name not in r:
            continue
        cells = []
        for s in splits:
            m = r.get(s)
            if m is None:
                cells.append('–')
            elif s == split_name:
                cells.append(' / '.join(f'{m[k]:.2f}' for k in KEYS))
            else:
                cells.append(f"{m['mIoU']:.2f}")
        lines.append(f"| {method} | {' | '.join(cells)} | {r.get('train_s', 0):.0f} |")
    return '\n'.join(lines) + '\n'


def load_results(result_path: str) -> dict:
    """The results file's content, ``{}`` before the first method finishes."""
    if not osp.isfile(result_path):
        return {}
    with open(result_path) as f:
        return json.load(f)


def save_entry(result_path: str, method: str, entry: dict) -> dict:
    """Write one method's entry into the results file and return all results.

    The file is read again just before the write, so benchmark processes running other methods
    into the same folder keep each other's entries.
    """
    results = load_results(result_path)
    results[method] = entry
    atomic_write_text(json.dumps(results, indent=2), result_path)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', default='all')
    parser.add_argument('--data-root', default=osp.join(ROOT, '..', 'shared', 'data', 'SIRST3'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'bench'))
    parser.add_argument('--config-set', choices=sorted(CONFIG_SETS), default='cpu')
    parser.add_argument('--phase', choices=['all', 'train', 'test'], default='all',
                        help='train only, test only (existing checkpoints), or both')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra key=value overrides for every method')
    args = parser.parse_args(argv)

    configs = CONFIG_SETS[args.config_set]
    methods = parse_methods(args.methods, configs)
    data_root = osp.abspath(args.data_root)
    check_data_root(data_root, args.config_set)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    result_path = osp.join(work_dir, 'quality.json')
    split_name = SPLIT_NAMES[args.config_set]
    py = sys.executable
    data_options = DATASET_OPTIONS[args.config_set]
    train_options = data_options + [f'train_dataloader.dataset.data_root={data_root}'] + \
        args.cfg_options
    test_options = data_options + [f'{loader}.dataset.data_root={data_root}' for loader in
                                   ('val_dataloader', 'test_dataloader')] + args.cfg_options

    for method in methods:
        config = configs[method]
        method_dir = osp.join(work_dir, method)
        os.makedirs(method_dir, exist_ok=True)
        log = osp.join(method_dir, 'bench.log')
        entry = load_results(result_path).get(method, {})
        if split_name in entry and osp.isfile(entry.get('checkpoint', '')):
            print(f'{method}: done earlier, kept ({result_path})')
            continue
        final_ckpt = osp.join(method_dir, 'final.pth')
        if args.phase in ('all', 'train') and not osp.isfile(final_ckpt):
            # No validation while training (the test below is the evaluation), so training
            # needs only the train split, e.g. on a machine that holds nothing else.
            cmd = [py, 'tools/train.py', config, '--work-dir', method_dir, '--cfg-options'
                   ] + train_options + list(NO_VALIDATION_OPTIONS)
            if osp.isfile(osp.join(method_dir, 'last_checkpoint')):
                cmd.insert(3, '--resume')
            start = time.time()
            run(cmd, log)
            entry['train_s'] = entry.get('train_s', 0.0) + time.time() - start
            last = open(osp.join(method_dir, 'last_checkpoint')).read().strip()
            os.replace(last, final_ckpt)
            entry.update(config=config, checkpoint=final_ckpt)
            save_entry(result_path, method, entry)
        if args.phase in ('all', 'test'):
            if not osp.isfile(final_ckpt):
                print(f'{method}: no checkpoint at {final_ckpt}, not tested')
                continue
            metrics_json = osp.join(method_dir, 'test_metrics.json')
            run([py, 'tools/test.py', config, final_ckpt, '--work-dir', method_dir, '--json',
                 metrics_json, '--cfg-options'] + test_options, log)
            entry.update(metrics_by_split(json.load(open(metrics_json)), split_name))
            entry.update(config=config, checkpoint=final_ckpt)
            save_entry(result_path, method, entry)
            m = entry[split_name]
            print(f"{method}: mIoU {m['mIoU']:.2f}  nIoU {m['nIoU']:.2f}  Pd {m['Pd']:.2f}  "
                  f"Fa {m['Fa']:.2f}")
    results = load_results(result_path)  # with entries other processes wrote meanwhile
    table = markdown(results, split_name)
    atomic_write_text(table, osp.join(work_dir, 'quality.md'))
    print(table)
    return results


if __name__ == '__main__':
    main()
