"""Helpers to shrink a real config into a seconds-long CPU run on a tiny synthetic set."""

from __future__ import annotations

import importlib.util
import os.path as osp
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from mmengine.config import Config

from mmgsacp.datasets.synthetic import make_synthetic_dataset
from mmgsacp.utils.config import use_synthetic

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_path(rel: str) -> str:
    return osp.join(REPO_ROOT, 'configs', rel)


def synthetic_root(tmp_path_factory, num_train: int, num_test: int, seed: int) -> str:
    """A new 64x64 synthetic set (SIRST3 layout) in a temporary folder; returns its path."""
    root = tmp_path_factory.mktemp('data') / 'synthetic'
    make_synthetic_dataset(
        str(root), num_train=num_train, num_test=num_test, size=(64, 64), seed=seed
    )
    return str(root)


def tiny_config(
    rel: str,
    data_root: str,
    work_dir: str,
    iters: int = 6,
    batch: int = 4,
    crop: int = 64,
    val: bool = True,
    checkpoint_interval: Optional[int] = None,
) -> Config:
    """Load ``configs/<rel>``, switch it to the synthetic set at ``data_root`` and make it run
    ``iters`` steps in the foreground process."""
    cfg = use_synthetic(Config.fromfile(config_path(rel)), data_root)
    cfg.work_dir = work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_dataloader.batch_size = batch
    for step in cfg.train_dataloader.dataset.pipeline:
        if 'crop_size' in step:
            step['crop_size'] = (crop, crop)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters if val else iters + 1
    if not val:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    ckpt = cfg.default_hooks.checkpoint
    ckpt.interval = checkpoint_interval or iters
    if not val:
        ckpt.save_best = None
    cfg.default_hooks.logger.interval = 1
    if 'drift_monitor' in cfg.default_hooks:
        cfg.default_hooks.drift_monitor.interval = 2
        cfg.default_hooks.drift_monitor.grid_interval = 4
    head = cfg.model.decode_head
    if 'warmup_ratio' in head:  # a warm-up that ends within the few steps, in steps
        head.update(warmup_ratio=None, warmup_iters=(1, 3))
    cfg.randomness = dict(seed=0, deterministic=False)
    return cfg


def run_tool(rel: str, *args) -> int:
    """Run ``python tools/<rel> ARGS`` in this process (through runpy) and return its exit
    status. A message exit (``SystemExit('error: ...')``) is printed on stderr with status 1,
    as the interpreter does."""
    path = osp.join(REPO_ROOT, 'tools', rel)
    argv = sys.argv
    sys.argv = [path, *map(str, args)]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    finally:
        sys.argv = argv
    return 0


def synthetic_set_fixture(name: str, **kwargs):
    """A module-scoped pytest fixture that makes one synthetic set (SIRST3 layout),
    ``make_synthetic_dataset(**kwargs)``, in a fresh temporary folder ``<name>N/set`` and
    gives its path. Assign it to the fixture's name in a test module."""

    @pytest.fixture(scope='module')
    def synthetic_set(tmp_path_factory) -> Path:
        root = tmp_path_factory.mktemp(name) / 'set'
        make_synthetic_dataset(root, **kwargs)
        return root

    return synthetic_set


def run_python_script(
    script, *args, cwd, timeout: Optional[float] = None, env: Optional[dict] = None
) -> subprocess.CompletedProcess:
    """Run ``python SCRIPT ARGS`` (arguments as strings; ``SCRIPT`` may be ``'-c'``) in a child
    process from ``cwd``, with text stdout and stderr captured."""
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def load_module(path, name: str):
    """Import the Python file ``path`` as a module named ``name`` (tools are files, not a
    package)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
