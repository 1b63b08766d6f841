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
from .test_cuda_graph_step import FINAL, FULL, assert_same_training, switch_pairs

AOT = dict(backend='aot_eager')


@pytest.mark.parametrize('rel', [FULL, FINAL])
def test_compiled_training_matches_eager_and_saves_the_plain_network(rel):
    torch._dynamo.reset()
    ref_pair, comp_pair = switch_pairs(rel, 'compile', (None, AOT))
    comp = comp_pair[0]
    # GSACP's thresholded targets: first step only
    assert_same_training(ref_pair, comp_pair, steps=2 if rel == FULL else 1)
    assert comp._backbone_in_use() is not comp.backbone  # training used the compiled module
    comp.eval()
    assert comp._backbone_in_use() is comp.backbone


def test_bad_compile_option_is_refused():
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(FULL))
    with pytest.raises(TypeError, match='model.compile'):
        MODELS.build(dict(cfg.model, compile='yes'))
