"""Backbones: output contract, size, trainability, registry builds (CompactUNet, DNANet,
LiteUNet and MMSeg's ResNetV1c on single-channel input). Inputs are tiny so the file runs in
seconds."""

from typing import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

import mmgsacp  # noqa: F401  (registers the backbones)
from mmgsacp.models.backbones import CompactUNet, DNANet, LiteUNet
from mmgsacp.models.utils.layers import ConvBlock


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # One intra-op thread: on a shared, busy CPU, OpenMP workers spin-wait for each other and
    # tiny convs then run many times slower than single-threaded.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- CompactUNet


@pytest.mark.parametrize('shape', [(1, 1, 37, 53), (2, 1, 64, 64), (1, 1, 5, 3)])
def test_compact_unet_shapes(shape):
    model = CompactUNet().eval()
    with torch.no_grad():
        outs = model(torch.randn(*shape))
    assert isinstance(outs, tuple) and len(outs) == model.num_stages == 4
    assert tuple(o.shape[1] for o in outs) == model.feat_channels == (128, 64, 32, 16)
    assert model.out_channels == 16
    assert outs[-1].shape == (shape[0], 16, shape[2], shape[3])
    # Coarse to fine: spatial size never shrinks along the tuple.
    sizes = [o.shape[-2] * o.shape[-1] for o in outs]
    assert sizes == sorted(sizes)


def test_compact_unet_variants():
    model = CompactUNet(in_channels=3, base_channels=8, num_stages=3, residual=False).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 21, 30))
    assert len(outs) == 3 and model.out_channels == 8
    assert outs[-1].shape == (1, 8, 21, 30)
    with pytest.raises(ValueError):
        CompactUNet(num_stages=1)


def test_compact_unet_param_count():
    assert 0.2e6 <= n_params(CompactUNet()) <= 0.8e6


# --------------------------------------------------------------------------------- DNANet


@pytest.mark.parametrize('shape', [(1, 1, 37, 53), (2, 1, 64, 64)])
def test_dnanet_shapes(shape):
    model = DNANet().eval()
    with torch.no_grad():
        outs = model(torch.randn(*shape))
    assert len(outs) == model.num_outs == 1
    assert model.out_channels == 16
    assert outs[-1].shape == (shape[0], 16, shape[2], shape[3])


def test_dnanet_deep_supervision_outputs():
    model = DNANet(deep_supervision=True).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 1, 37, 53))
    # X^{0,1}, X^{0,2}, X^{0,3}, X^{0,4}, fused
    assert len(outs) == model.num_outs == 5
    assert all(o.shape == (1, model.out_channels, 37, 53) for o in outs)
    assert tuple(o.shape[1] for o in outs) == model.feat_channels == (16,) * 5


def test_dnanet_small_config_and_no_fusion():
    model = DNANet(
        nb_filter=(4, 8, 16), num_blocks=(1, 1), deep_supervision=True, pyramid_fusion=False
    ).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 1, 9, 14))
    assert len(outs) == 3 and all(o.shape == (1, 4, 9, 14) for o in outs)
    # Without fusion the last output is the top nested node X^{0,L-1}.
    assert torch.equal(outs[-1], outs[-2])
    with pytest.raises(ValueError):
        DNANet(nb_filter=(4, 8, 16), num_blocks=(1, 1, 1))


def test_conv_block_attention_needs_the_residual_branch():
    block = ConvBlock(3, 8, attention=True).eval()
    assert block(torch.randn(1, 3, 5, 7)).shape == (1, 8, 5, 7)
    with pytest.raises(ValueError, match='residual'):
        ConvBlock(3, 8, residual=False, attention=True)


def test_dnanet_param_count():
    assert 4.0e6 <= n_params(DNANet()) <= 5.5e6


# ------------------------------------------------------------------------------- LiteUNet


@pytest.mark.parametrize('shape', [(1, 1, 37, 53), (2, 1, 64, 64), (1, 1, 5, 3)])
def test_lite_unet_shapes(shape):
    model = LiteUNet().eval()
    with torch.no_grad():
        outs = model(torch.randn(*shape))
    assert isinstance(outs, tuple) and len(outs) == 5
    assert tuple(o.shape[1] for o in outs) == model.feat_channels == (128, 64, 32, 16, 8)
    assert model.out_channels == 8
    assert outs[-1].shape == (shape[0], 8, shape[2], shape[3])
    # Strides 16, 8, 4, 2 (rounded up), then the full size.
    h, w = shape[2:]
    for o, stride in zip(outs[1:], (8, 4, 2, 1)):
        assert o.shape[-2:] == (-(-h // stride), -(-w // stride))


def test_lite_unet_variants_and_errors():
    model = LiteUNet(
        in_channels=3, detail_channels=4, channels=(8, 16), num_blocks=(0, 1), deep_dilation=1
    ).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 21, 30))
    assert len(outs) == 3 and model.out_channels == 4
    assert outs[-1].shape == (1, 4, 21, 30)
    with pytest.raises(ValueError, match='channels'):
        LiteUNet(channels=(16,))
    with pytest.raises(ValueError, match='num_blocks'):
        LiteUNet(num_blocks=(1, 2))
    with pytest.raises(ValueError, match='num_blocks'):
        LiteUNet(num_blocks=(1, 2, -1, 1))
    with pytest.raises(ValueError, match='deep_dilation'):
        LiteUNet(deep_dilation=0)


def test_lite_unet_is_much_smaller_than_the_compact_one():
    assert 0.08e6 <= n_params(LiteUNet()) <= 0.13e6
    assert n_params(LiteUNet()) < n_params(CompactUNet()) / 4


def test_lite_unet_keeps_full_resolution_detail():
    """Both paths train, and the detail path reaches the full-size output without a stride:
    with the context's contribution cut, a one-pixel shift of the frame shifts the output by
    exactly one pixel (a stride-2 path cannot do that)."""
    model = LiteUNet()
    _train_steps(model, steps=1)
    assert model.detail.conv.weight.grad.abs().sum() > 0
    assert model.stem.conv.weight.grad.abs().sum() > 0
    model.eval()
    x = torch.randn(1, 1, 32, 32)
    shifted = torch.roll(x, 1, dims=3)
    with torch.no_grad():
        full = model(x)[-1], model(shifted)[-1]
        # Inside the frame (away from the rolled-in column and the zero padding).
        assert not torch.allclose(full[0][..., 2:-3], full[1][..., 3:-2], atol=1e-3)
        model.laterals[-1].conv.weight.zero_()  # the stride-2 map's way to full size
        out, out_shifted = model(x)[-1], model(shifted)[-1]
    assert torch.allclose(out[..., 2:-3], out_shifted[..., 3:-2], atol=1e-5)


# ------------------------------------------------------------------------------- training


def _train_steps(backbone: nn.Module, steps: int = 3):
    """SGD steps of backbone + 1x1 conv head with BCE against a fixed random mask."""
    head = nn.Conv2d(backbone.out_channels, 1, 1)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)  # the loss falls by >10 % on every seed tried
    x = torch.randn(2, 1, 32, 32, generator=g)
    target = (torch.rand(2, 1, 32, 32, generator=g) < 0.1).float()
    backbone.train()
    losses, first_grad = [], None
    for _ in range(steps):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(head(backbone(x)[-1]), target)
        loss.backward()
        if first_grad is None:
            first_grad = _first_conv(backbone).weight.grad.detach().clone()
        opt.step()
        losses.append(loss.item())
    return losses, first_grad


def _first_conv(backbone: nn.Module) -> nn.Conv2d:
    return next(m for m in backbone.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize(
    'factory',
    [CompactUNet, lambda: DNANet(deep_supervision=True), LiteUNet],
    ids=['CompactUNet', 'DNANet', 'LiteUNet'],
)
def test_training_steps(factory: Callable[[], nn.Module]):
    backbone = factory()
    assert _first_conv(backbone).in_channels == 1
    losses, first_grad = _train_steps(backbone)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert first_grad.abs().sum() > 0


# ------------------------------------------------------------------------------- registry


def test_registry_build():
    unet = MODELS.build(dict(type='CompactUNet', base_channels=8))
    assert isinstance(unet, CompactUNet) and unet.out_channels == 8
    dna = MODELS.build(dict(type='mmseg.DNANet', nb_filter=(4, 8, 16), num_blocks=(1, 1)))
    assert isinstance(dna, DNANet) and dna.out_channels == 4
    lite = MODELS.build(dict(type='LiteUNet', detail_channels=4))
    assert isinstance(lite, LiteUNet) and lite.out_channels == 4


def test_mmseg_resnet18_single_channel():
    """MMSeg's own backbone + FPN mixed in by config on 1-channel input. Its features are at
    strides 4..32 (so is FPN's finest output): a head on them predicts at 1/4 resolution."""
    backbone = MODELS.build(
        dict(
            type='mmseg.ResNetV1c',
            depth=18,
            in_channels=1,
            norm_cfg=dict(type='BN', requires_grad=True),
        )
    )
    # ResNet overrides train() without returning self, so .eval() cannot be chained.
    backbone.eval()
    neck = MODELS.build(
        dict(type='mmseg.FPN', in_channels=[64, 128, 256, 512], out_channels=32, num_outs=4)
    ).eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 1, 64, 64))
        outs = neck(feats)
    assert [tuple(f.shape[1:]) for f in feats] == [
        (64, 16, 16),
        (128, 8, 8),
        (256, 4, 4),
        (512, 2, 2),
    ]
    assert tuple(outs[0].shape) == (1, 32, 16, 16)
