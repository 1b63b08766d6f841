#!/usr/bin/env python
"""Time training iterations of full supervision, GSACP-base and GSACP-final in one run.

Same network, batch and crop for the three (the CPU-budget configs, real data pipeline on a
small generated set in place of SIRST3); the EMA teacher update is part of GSACP-final's step.
Prints ms/iter and the ratios against full supervision measured in the same run.

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
from mmgsacp.engine.hooks import ema_update  # noqa: E402
from mmgsacp.utils import atomic_write_text  # noqa: E402
from mmgsacp.utils.config import use_synthetic  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
METHODS = {
    'full_sup': 'configs/full_sup/full-sup_1k_sirst3.py',
    'gsacp_base': 'configs/gsacp/gsacp-base_1k_sirst3.py',
    'gsacp_final': 'configs/gsacp/gsacp-final_1k_sirst3.py',
}
# --dnanet: full supervision's config with the backbone of this config in place of the
# compact network.
DNANET_METHOD = 'full_sup_dnanet'
DNANET_CONFIG = 'configs/full_sup/full-sup_dnanet_1k_sirst3.py'
# Its compact counterpart, whose schedule is the CPU budget the equal-time count refers to.
CPU_BUDGET_CONFIG = 'configs/full_sup/full-sup_1k_sirst3.py'


def build(method: str, data_root: str, batch: int):
    dnanet = method == DNANET_METHOD
    cfg = Config.fromfile(osp.join(ROOT, METHODS['full_sup' if dnanet else method]))
    if dnanet:
        cfg.model.backbone = Config.fromfile(osp.join(ROOT, DNANET_CONFIG)).model.backbone
    use_synthetic(cfg, data_root)
    # warm-up of the affinity term is over in a real run's steady state (and a warm-up
    # relative to max_iters needs a Runner's)
    if 'warmup_ratio' in cfg.model.decode_head:
        cfg.model.decode_head.update(warmup_ratio=None, warmup_iters=(0, 0))
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    samples = [dataset[i % len(dataset)] for i in range(batch)]
    model = MODELS.build(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    step_hooks = []
    for hook in cfg.default_hooks.values():
        if hook['type'] == 'EMATeacherHook':
            teacher = model.make_teacher(hook.get('scope', 'head'))
            momentum = hook.get('momentum', 0.99)
            step_hooks.append(lambda t=teacher, m=momentum: ema_update(
                t, model.teacher_source(), m))
        if hook['type'] == 'DriftMonitorHook':
            interval = hook.get('interval', 50)
            step_hooks.append(('monitor', interval))
    return model, optim, pseudo_collate(samples), step_hooks


def time_method(method, data_root, batch, iters, warmup):
    torch.manual_seed(0)
    model, optim, data, hooks = build(method, data_root, batch)
    times = []
    for it in range(warmup + iters):
        for h in hooks:
            if isinstance(h, tuple) and (it + 1) % h[1] == 0:
                model.monitor_request = True
        t0 = time.perf_counter()
        model.train_step(data, optim)
        for h in hooks:
            if callable(h):
                h()
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
