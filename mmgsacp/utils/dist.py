"""Distributed runs on machines without GPUs (torchrun + gloo)."""

from __future__ import annotations

import torch
import torch.distributed as dist


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Make ``--launcher pytorch`` work when CUDA is absent.

    MMEngine's ``init_dist`` always calls ``torch.cuda.set_device`` and its DDP wrapper always
    passes ``device_ids=[LOCAL_RANK]``; both fail on CPU. This starts a gloo process group from
    torchrun's environment (the runner then finds it running) and wraps the model with
    ``device_ids=None``, which is how DDP runs on CPU.

    Args:
        cfg (Config): the run's config; ``model_wrapper_cfg`` is set in place.
        launcher (str): the ``--launcher`` value.

    Returns:
        bool: whether the CPU setup was applied.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(
        cfg.get('model_wrapper_cfg')
        or dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
        )
    )
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True


def teardown_distributed() -> None:
    """Destroy the process group at the end of a finished run.

    Left to interpreter exit, the gloo group's threads can be torn down in the wrong order
    (``terminate called without an active exception``, SIGABRT in one rank) after the work
    is done, and torchrun then reports the whole run as failed.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
