#!/usr/bin/env python
"""Time training iterations of full supervision, GSACP-base and GSACP-final in one run.

Same network, batch and crop for the three (the synthetic configs, real data pipeline on a small
generated set); the EMA teacher update is part of GSACP-final's step. Prints ms/iter and the
ratios against full supervision measured in the same run.

With ``--dnanet`` it also times full supervision with DNANet in place of the compact network
(same data, batch and crop) and prints how many DNANet iterations take as long as the CPU
budget's 1000 compact ones (JSON keys ``full_sup_dnanet_ms``, ``ratio_dnanet``,
``dnanet_equal_time_iters``).

    python tools/bench_train_step.py [--iters 30] [--warmup 5] [--batch 16] [--dnanet]
                                     [--json OUT]
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS, MODELS  # noqa: E402

import mmgsacp  # noqa: E402,F401
from mmgsacp.datasets.synthetic import make_synthetic_dataset  # noqa: E402
from mmgsacp.utils import atomic_write_text  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
METHODS = {
    'full_sup': 'configs/synthetic/full_sup_synthetic.py',
    'gsacp_base': 'configs/synthetic/gsacp_base_synthetic.py',
    'gsacp_final': 'configs/synthetic/gsacp_final_synthetic.py',
}
# --dnanet: full supervision's config with the backbone of this config in place of the
# compact network.
DNANET_METHOD = 'full_sup_dnanet'
DNANET_CONFIG = 'configs/baselines/cpu/full_sup_dnanet_sirst3_cpu.py'
# Its compact counterpart, whose schedule is the CPU budget the equal-time count refers to.
CPU_BUDGET_CONFIG = 'configs/baselines/cpu/full_sup_sirst3_cpu.py'


def build(method: str, data_root: str, batch: int):
    dnanet = method == DNANET_METHOD
    cfg = Config.fromfile(osp.join(ROOT, METHODS['full_sup' if dnanet else method]))
    if dnanet:
        cfg.model.backbone = Config.fromfile(osp.join(ROOT, DNANET_CONFIG)).model.backbone
    init_default_scope('mmseg')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = data_root
    dataset = DATASETS.build(ds_cfg)
    samples = [dataset[i % len(dataset)] for i in range(batch)]
    model = MODELS.build(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    step_hooks = []
    for hook in cfg.default_hooks.values():
        if hook['type'] == 'DriftMonitorHook':
            interval = hook.get('interval', 50)
            step_hooks.append(('monitor', interval))
    # warm-up of the affinity term is over in a real run's steady state
    head = model.decode_head
    if hasattr(head, 'num_updates'):
        head.num_updates.fill_(10**6)
    return model, optim, pseudo_collate(samples), step_hooks


def train_iteration(model, data, optim, it: int) -> None:
    """Iteration ``it`` (0-based) as the runner runs it: the model's training step, then the
    update EMATeacherHook makes when the model has a teacher (configured in ``model.teacher``).
    """
    model.train_step(data, optim)
    if getattr(model, 'teacher', None) is not None:
        model.update_teacher(it + 1)


def time_method(method, data_root, batch, iters, warmup):
    torch.manual_seed(0)
    model, optim, data, hooks = build(method, data_root, batch)
    times = []
    for it in range(warmup + iters):
        for h in hooks:
            if isinstance(h, tuple) and (it + 1) % h[1] == 0:
                model.monitor_request = True
        t0 = time.perf_counter()
        train_iteration(model, data, optim, it)
        if it >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    return 1000 * times[len(times) // 2]  # median: robust to a noisy shared machine


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--dnanet', action='store_true',
                        help='also time full supervision with DNANet')
    parser.add_argument('--json', help='write the timings to this JSON file')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = osp.join(tmp, 'synthetic')
        make_synthetic_dataset(root, num_train=32, num_test=1, seed=0)
        methods = list(METHODS) + ([DNANET_METHOD] if args.dnanet else [])
        ms = {m: time_method(m, root, args.batch, args.iters, args.warmup) for m in methods}
    result = dict(
        full_sup_ms=ms['full_sup'],
        gsacp_base_ms=ms['gsacp_base'],
        gsacp_final_ms=ms['gsacp_final'],
        ratio_base=ms['gsacp_base'] / ms['full_sup'],
        ratio_final=ms['gsacp_final'] / ms['full_sup'],
        batch=args.batch, iters=args.iters, threads=torch.get_num_threads())
    if args.dnanet:
        budget_iters = Config.fromfile(osp.join(ROOT, CPU_BUDGET_CONFIG)).train_cfg.max_iters
        result.update(
            full_sup_dnanet_ms=ms[DNANET_METHOD],
            ratio_dnanet=ms[DNANET_METHOD] / ms['full_sup'],
            dnanet_equal_time_iters=round(budget_iters * ms['full_sup'] / ms[DNANET_METHOD]))
    print(f"{'method':<15} {'ms/iter':>9} {'ratio':>7}")
    for m in ms:
        print(f'{m:<15} {ms[m]:9.1f} {ms[m] / ms["full_sup"]:7.3f}')
    print('targets: ratio_base <= 1.10, ratio_final <= 1.35')
    if args.dnanet:
        print(f'DNANet iterations in the time of {budget_iters} compact ones: '
              f"{result['dnanet_equal_time_iters']}")
    if args.json:
        atomic_write_text(json.dumps(result, indent=2), args.json)
    return result


if __name__ == '__main__':
    main()
