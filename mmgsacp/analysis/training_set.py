"""A config's training set as the analyses read it: the config with its overrides, and the
dataset built with a chosen pipeline."""
from __future__ import annotations

import os
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import mmgsacp  # noqa: F401  (registers the datasets and transforms the configs name)
from mmgsacp.utils.io import InputError


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read ``path``, apply ``--cfg-options``-style overrides and set the default scope.

    Raises:
        InputError: ``path`` is not a file.
    """
    if not os.path.isfile(path):
        raise InputError(f'no config file {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def build_train_dataset(cfg: Config, data_root: Optional[str] = None,
                        pipeline: Sequence[dict] = ()):
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
