"""``model.channels_last``: the network stored channels-last trains and predicts as the default
layout does (up to float rounding), the EMA teacher shares the layout, and checkpoints move
between the layouts."""

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmgsacp  # noqa: F401

from ..utils import config_path
from .test_cuda_graph_step import FINAL, FULL, _batch, _floats

CL = torch.channels_last


def _pair(rel):
    """The same initial model in both layouts, each with an SGD optimizer (Adam would turn
    rounding-level gradient differences into learning-rate-sized steps)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(rel))
    if 'warmup_ratio' in cfg.model.decode_head:  # outside a Runner: the warm-up in steps
        cfg.model.decode_head.update(warmup_ratio=None, warmup_iters=(0, 0))
    cfg.optim_wrapper.optimizer = dict(type='SGD', lr=0.01, momentum=0.9)
    out = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, channels_last=channels_last))
        model.train()
        out.append((model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))))
    return out


def _conv_weights(module):
    return [p for n, p in module.named_parameters() if p.dim() == 4 and p.shape[1] > 1]


@pytest.mark.parametrize('rel', [FULL, FINAL])
def test_channels_last_trains_as_the_default_layout(rel):
    (ref, opt_r), (cl, opt_c) = _pair(rel)
    weights = _conv_weights(cl)
    assert weights and all(w.is_contiguous(memory_format=CL) for w in weights)
    assert not all(w.is_contiguous(memory_format=CL) for w in _conv_weights(ref))
    teacher = getattr(cl, 'teacher', None)
    if teacher is not None:  # the EMA teacher copies the student after the layout is set
        assert all(w.is_contiguous(memory_format=CL) for w in _conv_weights(teacher))
    # GSACP's targets threshold the affinity and rank pixels, so after the first update a
    # rounding-level difference may flip a pixel's label: only its first step is compared.
    steps = 3 if rel == FULL else 1
    for seed in range(steps):
        torch.manual_seed(seed)
        log_r = _floats(ref.train_step(_batch(seed), opt_r))
        torch.manual_seed(seed)
        log_c = _floats(cl.train_step(_batch(seed), opt_c))
        assert log_r.keys() == log_c.keys()
        for k in log_r:
            assert log_c[k] == pytest.approx(log_r[k], rel=1e-4, abs=1e-5), (seed, k)
    pr, pc = ref.state_dict(), cl.state_dict()
    for k in pr:
        assert torch.allclose(pr[k].float(), pc[k].float(), atol=1e-5, rtol=1e-4), k
    # the layout survives training (the optimizer wrote into the same storage)
    assert all(w.is_contiguous(memory_format=CL) for w in _conv_weights(cl))


def test_checkpoints_move_between_layouts():
    (ref, _), (cl, _) = _pair(FULL)
    with torch.no_grad():
        for p in cl.parameters():
            p.add_(0.01 * torch.randn_like(p))
    ref.load_state_dict(cl.state_dict())
    ref.eval()
    cl.eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        a, b = ref._forward(x), cl._forward(x)
    assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
