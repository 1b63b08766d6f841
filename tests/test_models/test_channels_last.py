"""``model.channels_last``: the network stored channels-last trains and predicts as the default
layout does (up to float rounding), the EMA teacher shares the layout, and checkpoints move
between the layouts."""

import pytest
import torch

import mmgsacp  # noqa: F401

from .test_cuda_graph_step import FINAL, FULL, _batch, _floats, switch_pairs

CL = torch.channels_last


def _conv_weights(module):
    return [p for n, p in module.named_parameters() if p.dim() == 4 and p.shape[1] > 1]


@pytest.mark.parametrize('rel', [FULL, FINAL])
def test_channels_last_trains_as_the_default_layout(rel):
    (ref, opt_r), (cl, opt_c) = switch_pairs(rel, 'channels_last', (False, True))
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
    (ref, _), (cl, _) = switch_pairs(FULL, 'channels_last', (False, True))
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
