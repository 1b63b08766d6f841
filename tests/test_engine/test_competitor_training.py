"""The competitors' configs build and train a few iterations on the synthetic set."""

import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from ..utils import synthetic_root, tiny_config


@pytest.fixture(scope='module')
def syn_root(tmp_path_factory):
    return synthetic_root(tmp_path_factory, num_train=16, num_test=4, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize(
    'config',
    [
        'point_only/point-only_1k_sirst3.py',
        'lesps/lesps_1k_sirst3.py',
        'lesps/lesps-heatmap-pass_1k_sirst3.py',
        'pal/pal_1k_sirst3.py',
        'pal/pal-coarse_1k_sirst3.py',
        'gsacp/gsacp-final-coarse_1k_sirst3.py',
    ],
)
def test_competitor_configs_train(config, syn_root, tmp_path):
    init_default_scope('mmseg')
    cfg = tiny_config(config, syn_root, str(tmp_path / 'w'), iters=4, batch=4, val=False)
    if 'label_evolution' in cfg.default_hooks:  # 4 iterations an epoch: update in epoch 0
        cfg.default_hooks.label_evolution.update(start_ratio=0.0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = np.asarray(runner.message_hub.get_scalar('train/loss').data[0])
    assert np.isfinite(losses).all() and len(losses) == 4
    drift = [json.loads(line) for line in open(osp.join(cfg.work_dir, 'drift.jsonl'))]
    assert [d['iter'] for d in drift] == [2, 4]
    assert 0.0 <= drift[-1]['pseudo_iou'] <= 1.0, drift
    if 'label_evolution' in cfg.default_hooks:  # the share of the run resolved to epoch 0
        assert runner.model.label_store.num_updates.sum() > 0
