"""A config's training set as the analyses read it: the config with its overrides, and the
dataset built with a chosen pipeline."""

from __future__ import annotations

from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import mmgsacp  # noqa: F401  (registers the datasets and transforms the configs name)
from mmgsacp.utils.io import InputError
from mmgsacp.utils.io import load_config as read_config


def load_config(path: str, cfg_options=None) -> Config:
    """Read ``path``, apply ``--cfg-options``-style overrides and set the default scope.

    Args:
        path: The config file.
        cfg_options: ``KEY=VALUE`` strings as the tools take them, or a dict of dotted keys.

    Raises:
        InputError: ``path`` is missing or unreadable, or an override does not fit it
            (:func:`mmgsacp.utils.io.load_config`).
    """
    cfg = read_config(path, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def build_train_dataset(
    cfg: Config, data_root: Optional[str] = None, pipeline: Sequence[dict] = ()
):
    """The config's training dataset with ``pipeline`` in place of its own.

    Args:
        cfg: Config with a ``train_dataloader.dataset``.
        data_root: Replaces the dataset's ``data_root`` when given.
        pipeline: Transforms each item goes through (empty: the raw data info).

    Raises:
        InputError: The data cannot be found or read.
    """
    ds_cfg = cfg.train_dataloader.dataset.copy()
    if data_root is not None:
        ds_cfg['data_root'] = data_root
    ds_cfg['pipeline'] = list(pipeline)
    try:
        return DATASETS.build(ds_cfg)
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f'cannot read the training set: {err}') from err
