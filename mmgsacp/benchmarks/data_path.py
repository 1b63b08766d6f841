"""Time one training batch of data: the per-sample pipeline against the packed split.

Both paths produce what the model's ``train_step`` receives from its data preprocessor:
normalised (B, 1, h, w) crops with their data samples. The per-sample path is SIRST3's
``train_pipeline`` (decode, crop, flips, transpose, pack per sample) followed by
``SegDataPreProcessor``; the packed path is :class:`PackedPointDataset` (indices) followed by
:class:`PackedPointDataPreProcessor`. Batches of the two alternate, so a load that changes
during the run weighs on both alike.
"""

from __future__ import annotations

import argparse
import os.path as osp
import tempfile
import time
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

from mmgsacp.datasets import make_synthetic_dataset, pack_split
from mmgsacp.utils.io import write_json

#: Dataset base whose pipeline, crop and normalisation both paths use.
DATASET_BASE = osp.join('configs', '_base_', 'datasets', 'sirst3_packed.py')
MODEL_BASE = osp.join('configs', '_base_', 'models', 'compact_unet.py')


def benchmark_data_path(
    root: str,
    data_root: str,
    ann_file: str,
    pack_file: str,
    batches: int = 10,
    batch_size: int = 16,
    warmup: int = 1,
    seed: int = 0,
) -> Dict[str, float]:
    """Mean time per batch of both data paths, measured in one run.

    Args:
        root (str): Repository root (for the config bases).
        data_root (str): Dataset folder in the SIRST3 layout.
        ann_file (str): Training split list relative to ``data_root``.
        pack_file (str): That split packed (:func:`mmgsacp.datasets.pack_split`).
        batches (int): Timed batches of each path.
        batch_size (int): Samples per batch.
        warmup (int): Untimed batches of each path first.
        seed (int): Seed of the sample order and of both augmentations.

    Returns:
        dict: ``per_sample_ms``, ``packed_ms`` (mean ms per batch), ``ratio``
        (per-sample / packed), ``batch_size``, ``batches``, ``threads``.
    """
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(root, DATASET_BASE))
    model_cfg = Config.fromfile(osp.join(root, MODEL_BASE))
    plain_pre = MODELS.build(model_cfg.data_preprocessor)
    packed_pre = MODELS.build(dict(model_cfg.data_preprocessor, **cfg.packed_preprocessor))
    folder = DATASETS.build(
        dict(
            type='PointSIRSTDataset',
            data_root=data_root,
            ann_file=ann_file,
            point_type='centroid',
            pipeline=Config.fromfile(
                osp.join(root, 'configs', '_base_', 'datasets', 'sirst3.py')
            ).train_pipeline,
        )
    )
    packed = DATASETS.build(
        dict(
            cfg.train_dataloader.dataset,
            data_root=data_root,
            ann_file=ann_file,
            pack_file=pack_file,
        )
    )
    if len(folder) != len(packed):
        raise ValueError(f'{pack_file} holds {len(packed)} images, {ann_file} lists {len(folder)}')
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    def per_sample(indices: List[int]) -> None:
        plain_pre(pseudo_collate([folder[i] for i in indices]), True)

    def in_memory(indices: List[int]) -> None:
        packed_pre(pseudo_collate([packed[i] for i in indices]), True)

    times = {'per_sample': [], 'packed': []}
    for step in range(warmup + batches):
        indices = rng.integers(0, len(folder), batch_size).tolist()
        for name, fn in (('per_sample', per_sample), ('packed', in_memory)):
            start = time.perf_counter()
            fn(indices)
            if step >= warmup:
                times[name].append(time.perf_counter() - start)
    per_sample_ms = 1000 * float(np.mean(times['per_sample']))
    packed_ms = 1000 * float(np.mean(times['packed']))
    return dict(
        per_sample_ms=per_sample_ms,
        packed_ms=packed_ms,
        ratio=per_sample_ms / packed_ms,
        batch_size=batch_size,
        batches=batches,
        threads=torch.get_num_threads(),
    )


def run_command(args: argparse.Namespace) -> int:
    """``tools/benchmarks/bench_data.py``'s work on its parsed arguments (``args.root``: the
    repository root): time both data paths, print and write (``--json``) the result. Returns
    the exit status."""
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_root, split = args.data_root, args.split
        if data_root is None:
            data_root = osp.join(tmp, 'synthetic')
            make_synthetic_dataset(data_root, num_train=64, num_test=1, size=(256, 256))
            split = split or 'img_idx/train_synthetic.txt'
        split = split or 'img_idx/train_SIRST3.txt'
        pack_file = args.pack_file or osp.join(tmp, 'train.npz')
        if not osp.isfile(pack_file):
            pack_split(data_root, split, pack_file, point_type='centroid')
        result = benchmark_data_path(
            args.root, data_root, split, pack_file, args.batches, args.batch, args.warmup
        )
    print(
        f'batch of {result["batch_size"]}, {result["batches"]} batches, '
        f'{result["threads"]} torch threads, CPU'
    )
    print(f'per-sample pipeline: {result["per_sample_ms"]:8.1f} ms/batch')
    print(f'packed in memory:    {result["packed_ms"]:8.1f} ms/batch')
    print(f'ratio:               {result["ratio"]:8.1f}x')
    if args.json:
        write_json(result, args.json)
    return 0
