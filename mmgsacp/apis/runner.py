"""What ``tools/train.py`` and ``tools/test.py`` share: the run's config and the runner's life.

Both read a config with ``--cfg-options``, place the work folder the way MMSeg's tools do
(``./work_dirs/<config name>`` unless the config or ``--work-dir`` says otherwise) and run one
:class:`~mmengine.runner.Runner` step (train or test), on CPU-only machines under
``--launcher pytorch`` too (:mod:`mmgsacp.utils.dist`).
"""

from __future__ import annotations

import os.path as osp
from typing import Callable, Optional, Sequence, TypeVar

from mmengine.config import Config
from mmengine.runner import Runner

from ..utils.checkpoint import allow_unsafe_checkpoints
from ..utils.dist import setup_cpu_distributed, teardown_distributed
from ..utils.io import load_config

T = TypeVar('T')


def load_run_config(
    config: str, cfg_options: Optional[Sequence[str]], work_dir: Optional[str], launcher: str
) -> Config:
    """The config of a train or test run with the command line's common options applied.

    Args:
        config: The config file.
        cfg_options: ``--cfg-options`` items (``KEY=VALUE``), or None.
        work_dir: ``--work-dir``; None keeps the config's ``work_dir``, or, when it has none,
            uses ``./work_dirs/<config file name without .py>``.
        launcher: ``--launcher``.

    Returns:
        The config, with ``launcher`` and ``work_dir`` set.

    Raises:
        InputError: A missing or unreadable config, or a bad ``--cfg-options`` item.
    """
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def run_with_runner(
    cfg: Config, launcher: str, step: Callable[[Runner], T], unsafe_checkpoints: bool = False
) -> T:
    """Build the runner of ``cfg``, run ``step`` on it and close the process group after.

    Args:
        cfg: The run's config (:func:`load_run_config`).
        launcher: ``--launcher``; ``'pytorch'`` without CUDA runs on gloo.
        step: What to do with the runner, e.g. ``lambda runner: runner.train()``.
        unsafe_checkpoints: Fully unpickle checkpoints that are not plain data (trusted legacy
            files only) instead of refusing them.

    Returns:
        What ``step`` returns.

    Raises:
        CheckpointError: A refused, unreadable or unsaveable checkpoint, naming the file.
    """
    if unsafe_checkpoints:
        allow_unsafe_checkpoints()
    setup_cpu_distributed(cfg, launcher)
    result = step(Runner.from_cfg(cfg))
    # left to interpreter exit, the gloo group can abort a finished run (see the function)
    teardown_distributed()
    return result
