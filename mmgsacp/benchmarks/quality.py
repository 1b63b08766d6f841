"""Train and test every method on the same budget, and tabulate the field's metrics.

Each method is its config of a set (:data:`CONFIG_SETS`; by default the CPU budget: same
network, crop, batch and iteration count), trained from centroid points on SIRST3 train and
tested on test_SIRST3 with its three parts. The ``gpu40k`` set is the published budget (40k
iterations of batch 16) with the GPU switches of ``configs/_base_/gpu_fast.py``, trained from the
packed split where the method's config has a packed form. Results go to
``<work-dir>/quality.json``::

    {method: {split: {"mIoU", "nIoU", "Pd", "Fa"}, "checkpoint": path, "config": path,
              "train_s": seconds, "test_s": seconds}}

and two markdown tables beside it (``quality.md``; ``times.md``, seconds per method). The
results file is rewritten (atomically) after every method, so an interrupted benchmark resumes
with the methods not yet finished (a method whose training was cut short resumes from its last
checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmgsacp.datasets.packed import pack_command
from mmgsacp.utils.config import (
    GPU_FAST_OPTIONS,
    NO_VALIDATION_OPTIONS,
    as_cfg_options,
    synthetic_options,
)
from mmgsacp.utils.fileio import atomic_write_text
from mmgsacp.utils.io import InputError, parse_cfg_options, write_json

#: method -> config (the CPU budget: same network, crop, batch and iteration count).
CPU_CONFIGS = {
    'full_sup': 'configs/full_sup/full-sup_1k_sirst3.py',
    'point_only': 'configs/point_only/point-only_1k_sirst3.py',
    'prior_only': 'configs/prior_only/prior-only_1k_sirst3.py',
    'lesps': 'configs/lesps/lesps_1k_sirst3.py',
    'pal': 'configs/pal/pal_1k_sirst3.py',
    'gsacp_base': 'configs/gsacp/gsacp-base_1k_sirst3.py',
    'gsacp_ema': 'configs/gsacp/gsacp-ema_1k_sirst3.py',
    'gsacp_hbc': 'configs/gsacp/gsacp-hbc_1k_sirst3.py',
    'gsacp_asg': 'configs/gsacp/gsacp-asg_1k_sirst3.py',
    'gsacp_final': 'configs/gsacp/gsacp-final_1k_sirst3.py',
    # not in 'all': point-only and LESPS with each point spread into CornerNet's Gaussian heat map
    'point_only_heatmap': 'configs/point_only/point-only-heatmap_1k_sirst3.py',
    'lesps_heatmap': 'configs/lesps/lesps-heatmap_1k_sirst3.py',
    # not in 'all': LESPS's labels updated by a pass over the training images after each update
    # epoch, as its authors' code does (the configs above update online, on the crops)
    'lesps_heatmap_pass': 'configs/lesps/lesps-heatmap-pass_1k_sirst3.py',
    # not in 'all': PAL with the cosine decay of the other methods instead of a constant rate
    'pal_cosine': 'configs/pal/pal-cosine_1k_sirst3.py',
    # not in 'all': PAL, GSACP-Final and prior-only on SIRST3's coarse points (PAL's best
    # published row)
    'pal_coarse': 'configs/pal/pal-coarse_1k_sirst3.py',
    'gsacp_final_coarse': 'configs/gsacp/gsacp-final-coarse_1k_sirst3.py',
    'prior_only_coarse': 'configs/prior_only/prior-only-coarse_1k_sirst3.py',
    # not in 'all': a variant of the final rung (its contrastive loss pulls the ignore band)
    'gsacp_final_pullband': 'configs/gsacp/gsacp-final-pullband_1k_sirst3.py',
    # not in 'all': the outer band kept, decided by the affinity or by the teacher's probability
    'gsacp_final_band': 'configs/gsacp/gsacp-final-band_1k_sirst3.py',
    'gsacp_final_predband': 'configs/gsacp/gsacp-final-predband_1k_sirst3.py',
    # not in 'all': GSACP-Final with the teacher's false positives x4 as background (x16 default)
    'gsacp_final_fp4': 'configs/gsacp/gsacp-final-fp4_1k_sirst3.py',
    # not in 'all': GSACP-Final with the BCE's target term x4 (the counterweight of x16)
    'gsacp_final_pw4': 'configs/gsacp/gsacp-final-pw4_1k_sirst3.py',
    # not in 'all': GSACP-Final and prior-only at PAL's constant learning rate
    'gsacp_final_constant': 'configs/gsacp/gsacp-final-constant_1k_sirst3.py',
    'prior_only_constant': 'configs/prior_only/prior-only-constant_1k_sirst3.py',
    # not in 'all': both with the cosine decay stopped at a fifth of the rate (between the two)
    'gsacp_final_floor': 'configs/gsacp/gsacp-final-floor_1k_sirst3.py',
    'prior_only_floor': 'configs/prior_only/prior-only-floor_1k_sirst3.py',
    # not in 'all': GSACP-Final with the loose gate's rim ignored instead of background
    'gsacp_final_ignoreband': 'configs/gsacp/gsacp-final-ignoreband_1k_sirst3.py',
    # not in 'all': GSACP-Final where a point with a core blob under 4 px ignores its support
    'gsacp_final_mincore': 'configs/gsacp/gsacp-final-mincore_1k_sirst3.py',
    # not in 'all': GSACP-Final where such a point is grown again through looser gates
    'gsacp_final_fallback': 'configs/gsacp/gsacp-final-fallback_1k_sirst3.py',
    # not in 'all': GSACP-Final trained with PAL's loss instead of BCE + soft IoU
    'gsacp_final_palloss': 'configs/gsacp/gsacp-final-palloss_1k_sirst3.py',
    # not in 'all': full supervision on DNANet, the reference for the compact network
    'full_sup_dnanet': 'configs/full_sup/full-sup_dnanet_1k_sirst3.py',
    # not in 'all': GSACP-Final on DNANet, the network of the published rows
    'gsacp_final_dnanet': 'configs/gsacp/gsacp-final_dnanet_1k_sirst3.py',
    # not in 'all': DNANet with as much training time as the compact network (250 iterations)
    'full_sup_dnanet_time': 'configs/full_sup/full-sup_dnanet_1k-time_sirst3.py',
    # not in 'all': LiteUNet, the deployment network: as configured, with the compact network's
    # training time (1600 iterations), with its deepest level widened to 192 channels, and both
    'full_sup_liteunet': 'configs/full_sup/full-sup_liteunet_1k_sirst3.py',
    'full_sup_liteunet_time': 'configs/full_sup/full-sup_liteunet_1k-time_sirst3.py',
    'full_sup_liteunet_c192': 'configs/full_sup/full-sup_liteunet-c192_1k_sirst3.py',
    'full_sup_liteunet_c192_time': 'configs/full_sup/full-sup_liteunet-c192_1k-time_sirst3.py',
    'full_sup_liteunet_c192_time1t': 'configs/full_sup/full-sup_liteunet-c192_1k-time-1t_sirst3.py',
    # not in 'all': both networks with deep supervision (auxiliary heads, training only)
    'full_sup_ds': 'configs/full_sup/full-sup-ds_1k_sirst3.py',
    'full_sup_dnanet_ds': 'configs/full_sup/full-sup-ds_dnanet_1k_sirst3.py',
}
#: what 'all' means: the benchmark's standard methods, in table order.
DEFAULT_METHODS = (
    'full_sup',
    'point_only',
    'prior_only',
    'lesps',
    'pal',
    'gsacp_base',
    'gsacp_ema',
    'gsacp_hbc',
    'gsacp_asg',
    'gsacp_final',
)
#: method -> config at the published budget (40k iterations of batch 16, about 400 epochs of
#: SIRST3 train), from the packed split in memory where the method trains from one. PAL keeps
#: its evolving labels in original image coordinates, which only the per-sample pipeline gives
#: (sirst3_coords.py), so it trains from the per-sample path.
GPU40K_CONFIGS = {
    'full_sup': 'configs/full_sup/full-sup-packed_40k_sirst3.py',
    'prior_only': 'configs/prior_only/prior-only-packed_40k_sirst3.py',
    'pal': 'configs/pal/pal_40k_sirst3.py',
    'gsacp_final': 'configs/gsacp/gsacp-final-packed_40k_sirst3.py',
}
#: method -> config, for each benchmark set: the CPU budget on SIRST3, its standard methods with
#: their data switched to the synthetic set (DATASET_OPTIONS), and the published budget on
#: SIRST3 or (a check of the same commands without a GPU) on the synthetic set.
CONFIG_SETS = {
    'cpu': CPU_CONFIGS,
    'synthetic': {m: CPU_CONFIGS[m] for m in DEFAULT_METHODS},
    'gpu40k': GPU40K_CONFIGS,
    'gpu40k-synthetic': GPU40K_CONFIGS,
}
#: --cfg-options that put every config of a set on its data (--data-root then says where).
DATASET_OPTIONS = {
    'cpu': [],
    'synthetic': synthetic_options(),
    'gpu40k': [],
    'gpu40k-synthetic': synthetic_options(),
}
#: --cfg-options a set trains with (before the user's, which may override them: e.g.
#: ``optim_wrapper.optimizer.fused=False`` to check the GPU set on a CPU).
TRAIN_OPTIONS = {
    'cpu': [],
    'synthetic': [],
    'gpu40k': list(GPU_FAST_OPTIONS),
    'gpu40k-synthetic': list(GPU_FAST_OPTIONS),
}
SPLIT_NAMES = {
    'cpu': 'SIRST3',
    'synthetic': 'synthetic',
    'gpu40k': 'SIRST3',
    'gpu40k-synthetic': 'synthetic',
}
#: The training split of each data set (relative to its data root).
TRAIN_SPLITS = {'SIRST3': 'img_idx/train_SIRST3.txt', 'synthetic': 'img_idx/train_synthetic.txt'}
PARTS = ('NUAA-SIRST', 'NUDT-SIRST', 'IRSTD-1K')
KEYS = ('mIoU', 'nIoU', 'Pd', 'Fa')
PHASES = ('all', 'train', 'test')


def parse_methods(text: str, known: Sequence[str]) -> List[str]:
    """Method names from ``text`` (space or comma separated; '' or 'all': the standard ones).

    Raises:
        InputError: Naming the unknown methods and listing the known ones.
    """
    names = (
        [m for m in DEFAULT_METHODS if m in known]
        if text.strip() in ('', 'all')
        else text.replace(',', ' ').split()
    )
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f'unknown method(s) {", ".join(unknown)}; known methods: {", ".join(known)}'
        )
    return names


def check_data_root(root: str, config_set: str) -> None:
    """Raise :class:`InputError`, saying where the data is expected, when ``root`` lacks the
    training split of ``config_set``."""
    split = TRAIN_SPLITS[SPLIT_NAMES[config_set]]
    if not osp.isfile(osp.join(root, split)):
        where = (
            'SIRST3 is expected at ../shared/data/SIRST3 (beside the repository); point '
            'to it with --data-root DIR or `make bench-quality DATA_ROOT=DIR`'
            if SPLIT_NAMES[config_set] == 'SIRST3'
            else 'make one with `python tools/dataset_converters/make_synthetic.py DIR`'
        )
        raise InputError(f'no data set at {root} ({split} missing). {where}')


def run_logged(cmd: List[str], log_path: str, cwd: str) -> None:
    """Run ``cmd`` in ``cwd``, its output appended to ``log_path``.

    Raises:
        InputError: The command failed; the message points to the log.
    """
    print('$ ' + ' '.join(cmd), flush=True)
    with open(log_path, 'a') as log:
        proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise InputError(f'command failed (exit {proc.returncode}); see {log_path}')


def metrics_by_split(metrics: dict, split_name: str) -> dict:
    """``{split: {KEYS}}`` plus one entry per part the test reported."""
    out = {split_name: {k: metrics[k] for k in KEYS}}
    for part in PARTS:
        if f'{part}/mIoU' in metrics:
            out[part] = {k: metrics[f'{part}/{k}'] for k in KEYS}
    return out


def table_order(results: dict) -> List[str]:
    """The methods of ``results``: the standard ones in their order, then the others sorted."""
    return [m for m in DEFAULT_METHODS if m in results] + sorted(
        m for m in results if m not in DEFAULT_METHODS
    )


def times_markdown(results: dict) -> str:
    """One row per method: seconds spent training and testing (summed over resumed runs)."""
    lines = ['| method | train s | test s | total s |', '|---|---|---|---|']
    for method in table_order(results):
        train_s, test_s = results[method].get('train_s'), results[method].get('test_s')
        cells = ['–' if t is None else f'{t:.0f}' for t in (train_s, test_s)]
        total = (train_s or 0.0) + (test_s or 0.0)
        lines.append(f'| {method} | {cells[0]} | {cells[1]} | {total:.0f} |')
    return '\n'.join(lines) + '\n'


def packed_split_of(root: str, config: str) -> Optional[Dict[str, str]]:
    """What the packed split a config trains from must hold, or None when the config trains
    from the per-sample pipeline.

    Returns:
        dict | None: ``pack_file`` (as the config names it, relative to ``root``) and
        ``point_type``.
    """
    dataset = Config.fromfile(osp.join(root, config)).train_dataloader.dataset
    if dataset.get('type') != 'PackedPointDataset':
        return None
    return dict(
        pack_file=dataset.pack_file,
        point_type=dataset.get('point_type') or 'centroid',
    )


def markdown(results: dict, split_name: str) -> str:
    """One row per method: the headline metrics on the split, mIoU per part, training time."""
    splits = [split_name] + [p for p in PARTS if any(p in r for r in results.values())]
    head = (
        '| method | '
        + ' | '.join(
            f'{s} mIoU / nIoU / Pd / Fa' if s == split_name else f'{s} mIoU' for s in splits
        )
        + ' | train s |'
    )
    lines = [head, '|' + '---|' * (len(splits) + 2)]
    for method in table_order(results):
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
                cells.append(f'{m["mIoU"]:.2f}')
        lines.append(f'| {method} | {" | ".join(cells)} | {r.get("train_s", 0):.0f} |')
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
    write_json(results, result_path)
    return results


def run_quality_benchmark(
    root: str,
    methods: str = 'all',
    data_root: str = '',
    work_dir: str = '',
    config_set: str = 'cpu',
    phase: str = 'all',
    cfg_options: Sequence[str] = (),
    pack_file: str = '',
) -> Dict[str, dict]:
    """Train and/or test ``methods`` with ``tools/train.py`` and ``tools/test.py``.

    Args:
        root: Repository root (holds ``tools/`` and ``configs/``; the commands run there).
        methods: 'all' or method names (space or comma separated) of ``config_set``.
        data_root: The data set folder.
        work_dir: Where each method's run and ``quality.json`` / ``quality.md`` go.
        config_set: A key of :data:`CONFIG_SETS`.
        phase: 'train' only, 'test' only (existing checkpoints), or 'all'.
        cfg_options: Extra ``key=value`` overrides for every method (after the set's own).
        pack_file: The packed training split of the methods whose config trains from one
            (relative to the current folder, as ``work_dir``); '' keeps the configs' own
            (relative to ``root``).

    Returns:
        All results in ``quality.json``, with entries other processes wrote meanwhile.

    Raises:
        InputError: Unknown methods, missing data (the data set, or a packed split: the
            message gives the command that writes it) or a failed command.
    """
    configs = CONFIG_SETS[config_set]
    names = parse_methods(methods, list(configs))
    data_root = osp.abspath(data_root)
    check_data_root(data_root, config_set)
    work_dir = osp.abspath(work_dir)
    pack_file = osp.abspath(pack_file) if pack_file else ''
    os.makedirs(work_dir, exist_ok=True)
    result_path = osp.join(work_dir, 'quality.json')
    split_name = SPLIT_NAMES[config_set]
    py = sys.executable
    data_options = DATASET_OPTIONS[config_set]
    train_options = (
        data_options
        + [f'train_dataloader.dataset.data_root={data_root}']
        + TRAIN_OPTIONS[config_set]
    )
    # Every packed split is looked for before the first run starts: a missing one is found
    # at once, not after the methods before it have trained.
    pack_options = (
        {m: packed_options(root, configs[m], pack_file, data_root, split_name) for m in names}
        if phase in ('all', 'train')
        else {}
    )
    test_options = (
        data_options
        + [
            f'{loader}.dataset.data_root={data_root}'
            for loader in ('val_dataloader', 'test_dataloader')
        ]
        + list(cfg_options)
    )

    for method in names:
        config = configs[method]
        method_dir = osp.join(work_dir, method)
        os.makedirs(method_dir, exist_ok=True)
        log = osp.join(method_dir, 'bench.log')
        entry = load_results(result_path).get(method, {})
        if split_name in entry and osp.isfile(entry.get('checkpoint', '')):
            print(f'{method}: done earlier, kept ({result_path})')
            continue
        final_ckpt = osp.join(method_dir, 'final.pth')
        if phase in ('all', 'train') and not osp.isfile(final_ckpt):
            # No validation while training (the test below is the evaluation), so training
            # needs only the train split, e.g. on a machine that holds nothing else.
            cmd = (
                [py, 'tools/train.py', config, '--work-dir', method_dir, '--cfg-options']
                + train_options
                + pack_options[method]
                + list(cfg_options)
                + list(NO_VALIDATION_OPTIONS)
            )
            if osp.isfile(osp.join(method_dir, 'last_checkpoint')):
                cmd.insert(3, '--resume')
            start = time.time()
            run_logged(cmd, log, root)
            entry['train_s'] = entry.get('train_s', 0.0) + time.time() - start
            with open(osp.join(method_dir, 'last_checkpoint')) as f:
                last = f.read().strip()
            os.replace(last, final_ckpt)
            entry.update(config=config, checkpoint=final_ckpt)
            save_entry(result_path, method, entry)
        if phase in ('all', 'test'):
            if not osp.isfile(final_ckpt):
                print(f'{method}: no checkpoint at {final_ckpt}, not tested')
                continue
            metrics_json = osp.join(method_dir, 'test_metrics.json')
            start = time.time()
            run_logged(
                [
                    py,
                    'tools/test.py',
                    config,
                    final_ckpt,
                    '--work-dir',
                    method_dir,
                    '--json',
                    metrics_json,
                    '--cfg-options',
                ]
                + test_options,
                log,
                root,
            )
            entry['test_s'] = entry.get('test_s', 0.0) + time.time() - start
            with open(metrics_json) as f:
                entry.update(metrics_by_split(json.load(f), split_name))
            entry.update(config=config, checkpoint=final_ckpt)
            save_entry(result_path, method, entry)
            m = entry[split_name]
            print(
                f'{method}: mIoU {m["mIoU"]:.2f}  nIoU {m["nIoU"]:.2f}  Pd {m["Pd"]:.2f}  '
                f'Fa {m["Fa"]:.2f}'
            )
    results = load_results(result_path)  # with entries other processes wrote meanwhile
    table = markdown(results, split_name)
    atomic_write_text(table, osp.join(work_dir, 'quality.md'))
    times = times_markdown(results)
    atomic_write_text(times, osp.join(work_dir, 'times.md'))
    print(table)
    print(times)
    return results


def packed_options(
    root: str, config: str, pack_file: str, data_root: str, split_name: str
) -> List[str]:
    """The training options that point a config at its packed split ([] for a config that
    trains from the per-sample pipeline).

    Raises:
        InputError: The packed split is missing; the message gives the command that writes
            it from ``data_root``.
    """
    wanted = packed_split_of(root, config)
    if wanted is None:
        return []
    path = pack_file or wanted['pack_file']
    path = path if osp.isabs(path) else osp.join(root, path)
    if not osp.isfile(path):
        command = pack_command(data_root, TRAIN_SPLITS[split_name], wanted['point_type'], path)
        raise InputError(
            f'{config} trains from the packed split {path}, which does not exist; write it '
            f'with: {command}'
        )
    return as_cfg_options({'train_dataloader.dataset.pack_file': path})


def missing_methods(work_dir: str, config_set: str, methods: str = 'all') -> List[str]:
    """The methods of ``methods`` (as :func:`parse_methods` reads it) that have no tested
    result in ``work_dir/quality.json``."""
    results = load_results(osp.join(work_dir, 'quality.json'))
    split_name = SPLIT_NAMES[config_set]
    return [
        m
        for m in parse_methods(methods, list(CONFIG_SETS[config_set]))
        if split_name not in results.get(m, {})
    ]


def relocate_results(work_dir: str, old_dir: str) -> dict:
    """After ``old_dir`` was moved to ``work_dir``, point the checkpoints of its
    ``quality.json`` at their new place (rewritten atomically). Returns the results."""
    path = osp.join(work_dir, 'quality.json')
    results = load_results(path)
    old = osp.abspath(old_dir) + os.sep
    for entry in results.values():
        ckpt = entry.get('checkpoint', '')
        if ckpt.startswith(old):
            entry['checkpoint'] = osp.join(osp.abspath(work_dir), ckpt[len(old) :])
    write_json(results, path)
    return results


def run_command(args: argparse.Namespace) -> int:
    """``tools/benchmarks/bench_quality.py``'s work on its parsed arguments (``args.root``: the
    repository root). Returns the exit status."""
    parse_cfg_options(args.cfg_options)  # a malformed item is refused before any run starts
    run_quality_benchmark(
        args.root,
        args.methods,
        args.data_root,
        args.work_dir,
        args.config_set,
        args.phase,
        args.cfg_options,
        args.pack_file,
    )
    return 0
