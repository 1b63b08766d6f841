"""Every config under configs/ parses, inherits in at most three levels, and builds its model."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401

from .utils import REPO_ROOT

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if f'{osp.sep}_base_{osp.sep}' not in p)


def _cpu_baseline(name: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', 'baselines', 'cpu', name))


def _depth(path: str) -> int:
    text = open(path).read()
    match = re.search(r"_base_\s*=\s*(\[[^\]]*\]|'[^']*')", text)
    if not match:
        return 0
    bases = re.findall(r"'([^']+)'", match.group(1))
    return 1 + max(_depth(osp.normpath(osp.join(osp.dirname(path), b))) for b in bases)


def test_configs_found():
    names = {osp.relpath(p, osp.join(REPO_ROOT, 'configs')) for p in CONFIGS}
    assert 'gsacp_sirst3.py' in names
    for rung in ('base', 'ema', 'hbc', 'asg', 'final'):
        assert f'gsacp/gsacp_{rung}_sirst3.py' in names
        assert f'gsacp/cpu/gsacp_{rung}_sirst3_cpu.py' in names
        assert f'synthetic/gsacp_{rung}_synthetic.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_builds(path):
    assert _depth(path) <= 3, f'{path} inherits more than three levels'
    cfg = Config.fromfile(path)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        out = model._forward(torch.zeros(1, 1, 64, 64))
    assert out.shape == (1, 1, 64, 64)


def test_ladder_is_single_variable():
    """Each rung differs from the base in exactly its own remedy."""
    def load(rung):
        return Config.fromfile(osp.join(REPO_ROOT, 'configs', 'gsacp', f'gsacp_{rung}_sirst3.py'))

    base, ema, hbc, asg, final = (load(r) for r in ('base', 'ema', 'hbc', 'asg', 'final'))

    def hooks(cfg):
        return sorted(h['type'] for h in cfg.default_hooks.values())

    def head(cfg):
        return cfg.model.decode_head

    assert base.model.get('teacher') is None and head(base).get('loss_contrast') is None
    assert not head(base).target_cfg.adaptive
    assert ema.model.teacher and hooks(ema) == hooks(base)
    assert head(ema) == head(base)
    assert hbc.model.get('teacher') is None and asg.model.get('teacher') is None
    assert head(hbc).loss_contrast is not None and hooks(hbc) == hooks(base)
    assert head(asg).target_cfg.adaptive and head(asg).get('loss_contrast') is None
    assert hooks(final) == hooks(ema) and head(final).target_cfg.adaptive
    assert final.model.teacher == ema.model.teacher
    assert head(final).loss_contrast == head(hbc).loss_contrast


@pytest.mark.parametrize('name,base,num_aux', [
    ('full_sup_ds_sirst3_cpu.py', 'full_sup_sirst3_cpu.py', 2),
    ('full_sup_dnanet_ds_sirst3_cpu.py', 'full_sup_dnanet_sirst3_cpu.py', 4),
])
def test_deep_supervision_configs(name, base, num_aux):
    """Auxiliary heads train from the prior bias on; inference is the plain network's."""
    def build(file):
        cfg = _cpu_baseline(file)
        init_default_scope('mmseg')
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        return model

    model, plain = build(name), build(base)
    assert len(model.auxiliary_head) == num_aux
    prior_logit = torch.logit(torch.tensor(0.01))
    for head in model.auxiliary_head:
        assert torch.allclose(head.conv_seg.bias, prior_logit)

    samples = []
    for i in range(2):
        mask = torch.zeros(1, 32, 32, dtype=torch.long)
        mask[:, 10 + i:14 + i, 8:12] = 1
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32), pad_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=mask)
        samples.append(sample)
    losses = model.loss(torch.randn(2, 1, 32, 32), samples)
    for k in range(num_aux):
        for term in ('loss_bce', 'loss_softiou'):
            assert torch.isfinite(losses[f'aux_{k}.{term}'])

    # What runs at test time (backbone + main head) has the plain config's parameters.
    def inference_params(m):
        return sum(p.numel() for p in m.backbone.parameters()) + sum(
            p.numel() for p in m.decode_head.parameters())

    assert inference_params(model) == inference_params(plain)
    model.eval()
    with torch.no_grad():
        assert model._forward(torch.zeros(1, 1, 33, 47)).shape == (1, 1, 33, 47)


def test_dnanet_equal_time_config_changes_only_the_schedule():
    """DNANet at the compact network's training time is full_sup_dnanet, shorter."""
    short = _cpu_baseline('full_sup_dnanet_time_sirst3_cpu.py').to_dict()
    full = _cpu_baseline('full_sup_dnanet_sirst3_cpu.py').to_dict()
    assert {k for k in set(short) | set(full) if short.get(k) != full.get(k)} == {'train_cfg'}
    assert short['train_cfg']['max_iters'] < full['train_cfg']['max_iters']
