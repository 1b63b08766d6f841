"""The GPU speed switches build and train on CPU (fused AdamW off)."""

import argparse

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmgsacp  # noqa: F401
from mmgsacp.engine.optimizers import BF16AutocastOptimWrapper
from mmgsacp.utils.config import GPU_FAST_OPTIONS, use_gpu_fast

from ..utils import config_path


def test_gpu_fast_fragment_matches_its_cfg_options():
    cfg = use_gpu_fast(Config.fromfile(config_path('full_sup/full-sup_1k_sirst3.py')))
    other = Config.fromfile(config_path('full_sup/full-sup_1k_sirst3.py'))
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    other.merge_from_dict(parser.parse_args(['--cfg-options', *GPU_FAST_OPTIONS]).cfg_options)
    for c in (cfg, other):
        assert c.optim_wrapper.type == 'BF16AutocastOptimWrapper'
        assert c.optim_wrapper.optimizer.type == 'AdamW'
        assert c.optim_wrapper.clip_grad == dict(max_norm=10.0)  # the schedule's, kept
        assert c.env_cfg.cudnn_benchmark is True
    assert cfg.optim_wrapper.optimizer.fused is True
    assert other.optim_wrapper.optimizer.fused is True


def test_bf16_wrapper_autocasts_without_a_scaler_and_trains():
    init_default_scope('mmseg')
    cfg = use_gpu_fast(Config.fromfile(config_path('full_sup/full-sup_1k_sirst3.py')), fused=False)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, BF16AutocastOptimWrapper)
    assert not hasattr(wrapper, 'loss_scaler')
    with wrapper.optim_context(model):
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
        assert torch.is_autocast_enabled('cpu')
        out = model.backbone(torch.randn(2, 1, 32, 32))
    assert out[-1].dtype == torch.bfloat16
    before = model.decode_head.conv_seg.weight.detach().clone()
    x = torch.randn(2, 1, 32, 32)
    with wrapper.optim_context(model):
        losses = model.decode_head.losses_from_labels(
            model.decode_head(model.backbone(x)), torch.randint(0, 2, (2, 32, 32))
        )
    loss = sum(losses.values())
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    wrapper.update_params(loss)
    after = model.decode_head.conv_seg.weight
    assert after.dtype == torch.float32 and not torch.equal(after, before)


def test_fused_needs_a_fusable_optimizer():
    cfg = Config.fromfile(config_path('full_sup/full-sup_1k_sirst3.py'))
    cfg.optim_wrapper.optimizer = dict(type='RMSprop', lr=1e-3)
    with pytest.raises(ValueError, match='RMSprop'):
        use_gpu_fast(cfg)
