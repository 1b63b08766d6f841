"""Test-time checkpoint loading that refuses weights which do not fit the model."""

from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.checkpoint import state_dict_for_model
from .utils import unwrap_model


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Makes ``load_from`` strict: missing, unexpected or mis-shaped keys raise
    :class:`~mmgsacp.utils.checkpoint.CheckpointMismatchError`, listing them.

    MMEngine's runner loads ``load_from`` non-strictly and only logs the keys that did not
    match, so a checkpoint of another architecture would be scored with random weights. This
    hook checks the checkpoint against the model once it is read (before MMEngine copies the
    weights in) and leaves in it exactly the keys the model has; training-only keys are dropped
    by the rule of :func:`~mmgsacp.utils.checkpoint.state_dict_for_model`. ``tools/test.py``
    adds it.

    Args:
        filename (str, optional): The checkpoint's path for messages (default: the config's
            ``load_from``).
    """

    priority = 'LOWEST'

    def __init__(self, filename: Optional[str] = None) -> None:
        self.filename = filename

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        filename = self.filename or runner.cfg.get('load_from', None) or 'checkpoint'
        model = unwrap_model(runner)
        state = state_dict_for_model(checkpoint, model.state_dict(), filename)
        if 'state_dict' in checkpoint:
            checkpoint['state_dict'] = state
        else:  # a bare state dict: MMEngine loads the checkpoint itself
            checkpoint.clear()
            checkpoint.update(state)
