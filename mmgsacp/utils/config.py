"""Config overrides that several tools apply."""

from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional, Union

from mmengine.config import Config

#: ``--cfg-options`` that train without validation (the caller evaluates with tools/test.py
#: afterwards), so training needs only the train split. Put them after any user option: a
#: later ``val_dataloader.xxx=...`` would bring the loader back half-built.
NO_VALIDATION_OPTIONS = (
    'val_cfg=None',
    'val_dataloader=None',
    'val_evaluator=None',
    'default_hooks.checkpoint.save_best=None',
)

#: The repository's configs (a source checkout; the package itself ships none).
CONFIGS_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
#: The dataset base of the embedded synthetic set.
SYNTHETIC_DATASET_CFG = osp.join(CONFIGS_DIR, '_base_', 'datasets', 'synthetic.py')

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def dataset_options(
    dataset_cfg: Union[str, Config], data_root: Optional[str] = None
) -> Dict[str, object]:
    """Overrides that put a method config on the data of another dataset base.

    What a dataset base says about *its data* is carried over: each loader's ``data_root`` and
    split list (``ann_file``) and the training batch size (a smaller set gets a smaller batch);
    what the method says about *its training* stays: pipelines (e.g. LESPS's coordinates),
    samplers, model and schedule.

    Args:
        dataset_cfg (str | Config): a dataset base such as ``configs/_base_/datasets/
            synthetic.py``, or that file loaded.
        data_root (str, optional): where the data is, instead of the base's ``data_root``.

    Returns:
        dict: dotted keys -> values, for :meth:`Config.merge_from_dict` (see
        :func:`use_dataset`) or, through :func:`as_cfg_options`, for ``--cfg-options``.
    """
    if not isinstance(dataset_cfg, Config):
        if not osp.isfile(dataset_cfg):
            raise FileNotFoundError(
                f'no dataset config at {dataset_cfg} (the dataset bases are '
                'in configs/_base_/datasets/ of a source checkout)'
            )
        dataset_cfg = Config.fromfile(dataset_cfg)
    options: Dict[str, object] = {}
    for loader in _LOADERS:
        dataset = (dataset_cfg.get(loader) or {}).get('dataset')
        if not dataset or 'ann_file' not in dataset or 'data_root' not in dataset:
            raise KeyError(
                f'{dataset_cfg.filename}: {loader}.dataset needs data_root and '
                'ann_file to switch a config to this data set'
            )
        options[f'{loader}.dataset.data_root'] = (
            dataset.data_root if data_root is None else data_root
        )
        options[f'{loader}.dataset.ann_file'] = dataset.ann_file
    options['train_dataloader.batch_size'] = dataset_cfg.train_dataloader.batch_size
    return options


def use_dataset(
    cfg: Config, dataset_cfg: Union[str, Config], data_root: Optional[str] = None
) -> Config:
    """Switch ``cfg`` (in place) to the data of ``dataset_cfg``; see :func:`dataset_options`.

    Returns:
        Config: ``cfg`` itself.
    """
    cfg.merge_from_dict(dataset_options(dataset_cfg, data_root))
    return cfg


def use_synthetic(cfg: Config, data_root: Optional[str] = None) -> Config:
    """Switch ``cfg`` (in place) to the embedded synthetic set (``data/synthetic`` unless
    ``data_root`` is given): the method's config unchanged but for where its data comes from."""
    return use_dataset(cfg, SYNTHETIC_DATASET_CFG, data_root)


def as_cfg_options(options: Dict[str, object]) -> List[str]:
    """``key=value`` strings for the tools' ``--cfg-options`` (MMEngine's ``DictAction``).

    Raises:
        ValueError: a value that ``DictAction`` would split or parse into something else
            (a comma, quote or bracket in a path).
    """
    out = []
    for key, value in options.items():
        text = str(value)
        if any(c in text for c in ',"\'()[]'):
            raise ValueError(
                f'{key}={text!r}: --cfg-options cannot carry a value with a comma, '
                'quote or bracket; switch the config in Python with use_dataset'
            )
        out.append(f'{key}={text}')
    return out


def synthetic_options(data_root: Optional[str] = None) -> List[str]:
    """:func:`use_synthetic` as ``--cfg-options`` strings, for tools run as commands."""
    return as_cfg_options(dataset_options(SYNTHETIC_DATASET_CFG, data_root))


#: The GPU speed switches of ``configs/_base_/gpu_fast.py`` as ``--cfg-options``.
GPU_FAST_OPTIONS = (
    'optim_wrapper.type=BF16AutocastOptimWrapper',
    'optim_wrapper.optimizer.fused=True',
    'env_cfg.cudnn_benchmark=True',
)
GPU_FAST_CFG = osp.join(CONFIGS_DIR, '_base_', 'gpu_fast.py')


def use_gpu_fast(cfg: Config, fused: bool = True) -> Config:
    """Merge ``configs/_base_/gpu_fast.py`` into ``cfg`` (in place): bf16 autocast without
    loss scaling, fused AdamW (``fused=False`` for a CPU check) and cuDNN autotuning.

    Raises:
        ValueError: the config's optimizer is not one that has a fused form (AdamW, Adam, SGD).
    """
    if fused and cfg.optim_wrapper.optimizer.get('type') not in ('AdamW', 'Adam', 'SGD'):
        raise ValueError(
            f'{cfg.filename}: fused=True needs an AdamW, Adam or SGD optimizer, got '
            f'{cfg.optim_wrapper.optimizer.get("type")!r}'
        )
    fragment = Config.fromfile(GPU_FAST_CFG)
    cfg.merge_from_dict(
        dict(optim_wrapper=fragment.optim_wrapper.to_dict(), env_cfg=fragment.env_cfg.to_dict())
    )
    cfg.optim_wrapper.optimizer.fused = fused
    return cfg
