"""Time training iterations of full supervision, GSACP-base and GSACP-final in one run.

Same network, batch and crop for the three (the CPU-budget configs, real data pipeline on a
small generated set in place of SIRST3); the EMA teacher update is part of GSACP-final's step.
Optionally also full supervision with DNANet in place of the compact network (same data, batch
and crop), and how many DNANet iterations take as long as the CPU budget's compact ones.
"""

from __future__ import annotations

import os.path as osp
import tempfile
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import mmgsacp  # noqa: F401  (registers the modules the configs name)
from mmgsacp.datasets.synthetic import make_synthetic_dataset
from mmgsacp.utils.config import use_synthetic

#: method -> config, relative to the repository root.
METHODS = {
    'full_sup': 'configs/full_sup/full-sup_1k_sirst3.py',
    'gsacp_base': 'configs/gsacp/gsacp-base_1k_sirst3.py',
    'gsacp_final': 'configs/gsacp/gsacp-final_1k_sirst3.py',
}
# With DNANet: full supervision's config with the backbone of this config in place of the
# compact network.
DNANET_METHOD = 'full_sup_dnanet'
DNANET_CONFIG = 'configs/full_sup/full-sup_dnanet_1k_sirst3.py'
# Its compact counterpart, whose schedule is the CPU budget the equal-time count refers to.
CPU_BUDGET_CONFIG = 'configs/full_sup/full-sup_1k_sirst3.py'


def build(root: str, method: str, data_root: str, batch: int):
    """Model, optimizer wrapper, one collated batch and the per-step hook actions of
    ``method``."""
    dnanet = method == DNANET_METHOD
    cfg = Config.fromfile(osp.join(root, METHODS['full_sup' if dnanet else method]))
    if dnanet:
        cfg.model.backbone = Config.fromfile(osp.join(root, DNANET_CONFIG)).model.backbone
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
        if hook['type'] == 'DriftMonitorHook':
            interval = hook.get('interval', 50)
            step_hooks.append(('monitor', interval))
    return model, optim, pseudo_collate(samples), step_hooks


def train_iteration(model, data, optim, it: int) -> None:
    """Iteration ``it`` (0-based) as the runner runs it: the model's training step, then the
    update EMATeacherHook makes when the model has a teacher (configured in ``model.teacher``).
    """
    model.train_step(data, optim)
    if getattr(model, 'teacher', None) is not None:
        model.update_teacher(it + 1)


def time_method(
    root: str, method: str, data_root: str, batch: int, iters: int, warmup: int
) -> float:
    """Median milliseconds of one training step of ``method`` (hooks included)."""
    torch.manual_seed(0)
    model, optim, data, hooks = build(root, method, data_root, batch)
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


def cpu_budget_iters(root: str) -> int:
    """The CPU budget's iteration count (its full-supervision config's ``max_iters``)."""
    return Config.fromfile(osp.join(root, CPU_BUDGET_CONFIG)).train_cfg.max_iters


def benchmark_train_step(
    root: str, iters: int = 30, warmup: int = 5, batch: int = 16, dnanet: bool = False
) -> Dict[str, float]:
    """Time every method on one generated synthetic set.

    Args:
        root: Repository root (holds ``configs/``).
        iters: Timed steps per method.
        warmup: Untimed steps before them.
        batch: Images per step.
        dnanet: Also time full supervision with DNANet.

    Returns:
        ``full_sup_ms``, ``gsacp_base_ms``, ``gsacp_final_ms`` (median ms/step), ``ratio_base``,
        ``ratio_final`` (against full supervision), ``batch``, ``iters``, ``threads``; with
        ``dnanet`` also ``full_sup_dnanet_ms``, ``ratio_dnanet`` and
        ``dnanet_equal_time_iters`` (DNANet steps in the time of the CPU budget's compact ones).
    """
    with tempfile.TemporaryDirectory() as tmp:
        data_root = osp.join(tmp, 'synthetic')
        make_synthetic_dataset(data_root, num_train=32, num_test=1, seed=0)
        methods = list(METHODS) + ([DNANET_METHOD] if dnanet else [])
        ms = {m: time_method(root, m, data_root, batch, iters, warmup) for m in methods}
    result = dict(
        full_sup_ms=ms['full_sup'],
        gsacp_base_ms=ms['gsacp_base'],
        gsacp_final_ms=ms['gsacp_final'],
        ratio_base=ms['gsacp_base'] / ms['full_sup'],
        ratio_final=ms['gsacp_final'] / ms['full_sup'],
        batch=batch,
        iters=iters,
        threads=torch.get_num_threads(),
    )
    if dnanet:
        result.update(
            full_sup_dnanet_ms=ms[DNANET_METHOD],
            ratio_dnanet=ms[DNANET_METHOD] / ms['full_sup'],
            dnanet_equal_time_iters=round(
                cpu_budget_iters(root) * ms['full_sup'] / ms[DNANET_METHOD]
            ),
        )
    return result


def train_step_table(result: Dict[str, float]) -> List[str]:
    """Lines ``method ms/iter ratio`` for every method in ``result``."""
    methods = list(METHODS) + ([DNANET_METHOD] if f'{DNANET_METHOD}_ms' in result else [])
    lines = [f'{"method":<15} {"ms/iter":>9} {"ratio":>7}']
    for m in methods:
        ms = result[f'{m}_ms']
        lines.append(f'{m:<15} {ms:9.1f} {ms / result["full_sup_ms"]:7.3f}')
    return lines
