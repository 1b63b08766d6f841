"""``model.compile``: training runs the backbone through ``torch.compile`` and changes neither the
losses nor what is saved; evaluation keeps the plain network. The tests use
the ``aot_eager`` backend (the graph capture and autograd split of the default backend, without
code generation), so they need no C compiler."""

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmgsacp  # noqa: F401

from ..utils import config_path
from .test_cuda_graph_step import FINAL, FULL, _batch, _floats, switch_pairs

AOT = dict(backend='aot_eager')


@pytest.mark.parametrize('rel', [FULL, FINAL])
def test_compiled_training_matches_eager_and_saves_the_plain_network(rel):
    torch._dynamo.reset()
    (ref, opt_r), (comp, opt_c) = switch_pairs(rel, 'compile', (None, AOT))
    steps = 2 if rel == FULL else 1  # GSACP's thresholded targets: first step only
    for seed in range(steps):
        torch.manual_seed(seed)
        log_r = _floats(ref.train_step(_batch(seed), opt_r))
        torch.manual_seed(seed)
        log_c = _floats(comp.train_step(_batch(seed), opt_c))
        assert log_r.keys() == log_c.keys()
        for k in log_r:
            assert log_c[k] == pytest.approx(log_r[k], rel=1e-4, abs=1e-5), (seed, k)
    assert comp._backbone_in_use() is not comp.backbone  # training used the compiled module
    sd_r, sd_c = ref.state_dict(), comp.state_dict()
    assert sd_r.keys() == sd_c.keys()
    for k in sd_r:
        assert torch.allclose(sd_r[k].float(), sd_c[k].float(), atol=1e-5, rtol=1e-4), k
    comp.eval()
    assert comp._backbone_in_use() is comp.backbone


def test_bad_compile_option_is_refused():
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(FULL))
    with pytest.raises(TypeError, match='model.compile'):
        MODELS.build(dict(cfg.model, compile='yes'))
