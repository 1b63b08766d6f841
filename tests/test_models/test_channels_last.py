"""``model.channels_last``: the network stored channels-last trains and predicts as the default
layout does (up to float rounding), the EMA teacher shares the layout, and checkpoints move
between the layouts."""

import pytest
import torch

import mmgsacp  # noqa: F401

from .test_cuda_graph_step import FINAL, FULL, assert_same_training, switch_pairs

CL = torch.channels_last


def _conv_weights(module):
    return [p for n, p in module.named_parameters() if p.dim() == 4 and p.shape[1] > 1]


@pytest.mark.parametrize('rel', [FULL, FINAL])
def test_channels_last_trains_as_the_default_layout(rel):
    ref_pair, cl_pair = switch_pairs(rel, 'channels_last', (False, True))
    ref, cl = ref_pair[0], cl_pair[0]
    weights = _conv_weights(cl)
    assert weights and all(w.is_contiguous(memory_format=CL) for w in weights)
    assert not all(w.is_contiguous(memory_format=CL) for w in _conv_weights(ref))
    teacher = getattr(cl, 'teacher', None)
    if teacher is not None:  # the EMA teacher copies the student after the layout is set
        assert all(w.is_contiguous(memory_format=CL) for w in _conv_weights(teacher))
    # GSACP's targets threshold the affinity and rank pixels, so after the first update a
    # rounding-level difference may flip a pixel's label: only its first step is compared.
    assert_same_training(ref_pair, cl_pair, steps=3 if rel == FULL else 1)
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
