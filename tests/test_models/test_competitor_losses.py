"""The competitors' losses against hand-computed values."""

import math

import pytest
import torch
from mmseg.registry import MODELS

from mmgsacp.models.losses import EdgeWeightedBCELoss, GaussianFocalLoss
from mmgsacp.models.losses.edge_weighted_bce_loss import edge_band
from mmgsacp.models.losses.gaussian_focal_loss import gaussian_heatmap


def _logit(p):
    return math.log(p / (1 - p))


def test_gaussian_focal_loss_hand_values():
    # one positive (p = 0.8), a soft negative (y = 0.5, p = 0.4), a hard negative (p = 0.1)
    # and an ignored pixel; the sum is divided by the single positive
    probs = [0.8, 0.4, 0.1, 0.9]
    logits = torch.tensor([[[_logit(p) for p in probs]]], requires_grad=True)
    target = torch.tensor([[[1.0, 0.5, 0.0, 255.0]]])
    expected = (
        -(0.2**2) * math.log(0.8)
        - (0.5**4) * (0.4**2) * math.log(0.6)
        - (1.0**4) * (0.1**2) * math.log(0.9)
    )
    loss = GaussianFocalLoss()(logits.unsqueeze(1), target)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert logits.grad[0, 0, 3] == 0  # ignored pixel gets no gradient


def test_gaussian_focal_loss_normalises_by_positive_count():
    logits = torch.zeros(1, 1, 1, 4)
    one = GaussianFocalLoss()(logits, torch.tensor([[[1, 0, 0, 0]]]))
    two = GaussianFocalLoss()(logits, torch.tensor([[[1, 1, 0, 0]]]))
    pos, neg = -(0.5**2) * math.log(0.5), -(0.5**2) * math.log(0.5)
    assert one.item() == pytest.approx(pos + 3 * neg, rel=1e-5)
    assert two.item() == pytest.approx((2 * pos + 2 * neg) / 2, rel=1e-5)
    # no positive: normalised by 1, so background alone still costs
    none = GaussianFocalLoss(loss_weight=2.0)(logits, torch.zeros(1, 1, 4, dtype=torch.long))
    assert none.item() == pytest.approx(2 * 4 * neg, rel=1e-5)


def test_gaussian_focal_loss_is_finite_on_saturated_logits_and_registered():
    logits = torch.tensor([[[[60.0, -60.0]]]], requires_grad=True)
    loss = MODELS.build(dict(type='GaussianFocalLoss'))(logits, torch.tensor([[[0, 1]]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert loss.item() > 50  # both pixels confidently wrong


def test_gaussian_heatmap_matches_the_direct_maximum():
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(2, 9, 11, generator=g) > 0.93
    sigma = 1.2
    heat = gaussian_heatmap(pos, sigma)
    r = int(3 * sigma + 0.5)
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(11.0), indexing='ij')
    for b in range(2):
        ref = torch.zeros(9, 11)
        for qy, qx in pos[b].nonzero().tolist():
            near = ((ys - qy).abs() <= r) & ((xs - qx).abs() <= r)
            g2 = torch.exp(-((ys - qy) ** 2 + (xs - qx) ** 2) / (2 * sigma**2))
            ref = torch.maximum(ref, g2 * near)
        assert torch.allclose(heat[b], ref, atol=1e-6)
    assert (heat[pos] == 1).all()


def test_gaussian_focal_loss_sigma_spares_the_point_neighbours():
    # a point at the centre of a 5x5 map, every pixel at p = 0.6: with sigma = 1 the four
    # neighbours have y = exp(-1/2) and cost (1 - y)^4 of a far negative's cost
    logits = torch.full((1, 1, 5, 5), _logit(0.6))
    target = torch.zeros(1, 5, 5, dtype=torch.long)
    target[0, 2, 2] = 1
    hard = GaussianFocalLoss()(logits, target).item()
    soft = GaussianFocalLoss(sigma=1.0)(logits, target).item()
    neg = -(0.6**2) * math.log(0.4)
    y = math.exp(-0.5)
    expected_gap = 4 * neg * (1 - (1 - y) ** 4)
    assert hard - soft > expected_gap  # diagonals and the ring at 2 are spared too
    target[0, 0, 0] = 255  # ignored pixels stay ignored after the spread
    soft_ign = GaussianFocalLoss(sigma=1.0)(logits, target).item()
    y00 = math.exp(-4)
    assert soft - soft_ign == pytest.approx((1 - y00) ** 4 * neg, rel=1e-4)
    with pytest.raises(ValueError, match='sigma'):
        GaussianFocalLoss(sigma=-1.0)


def test_edge_band_is_the_inner_one_pixel_boundary():
    t = torch.zeros(1, 7, 7, dtype=torch.bool)
    t[0, 1:6, 1:6] = True
    band = edge_band(t)
    assert band.sum() == 16  # 5x5 square minus its 3x3 interior
    assert not band[0, 2:5, 2:5].any() and band[0, 1, 1]
    corner = torch.zeros(1, 3, 3, dtype=torch.bool)
    corner[0, 0, 0] = True  # the image border counts as outside
    assert edge_band(corner)[0, 0, 0]


def test_edge_weighting_and_hard_pixel_selection():
    # 4 pixels: edge target with p = 0.5, background at p = 0.5, 0.1, 0.2
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    target[0, 0, 0] = 1
    probs = [0.5, 0.5, 0.1, 0.2]
    logits = torch.tensor([[[[_logit(p) for p in probs]]]])
    per_pixel = [4 * math.log(2), math.log(2), -math.log(0.9), -math.log(0.8)]
    half = EdgeWeightedBCELoss()(logits, target)
    assert half.item() == pytest.approx((per_pixel[0] + per_pixel[1]) / 2, rel=1e-5)
    full = EdgeWeightedBCELoss(hard_ratio=1.0)(logits, target)
    assert full.item() == pytest.approx(sum(per_pixel) / 4, rel=1e-5)
    plain = EdgeWeightedBCELoss(hard_ratio=1.0, edge_weight=1.0)(logits, target)
    assert plain.item() == pytest.approx((sum(per_pixel) - 3 * math.log(2)) / 4, rel=1e-5)


def test_edge_bce_pixel_weight_scales_and_decides_the_hard_pixels():
    # the same 4 pixels; a weight of 10 on the easiest background pixel (p = 0.1) makes it
    # one of the two hardest, in place of the background pixel at p = 0.5
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    target[0, 0, 0] = 1
    logits = torch.tensor([[[[_logit(p) for p in [0.5, 0.5, 0.1, 0.2]]]]])
    weight = torch.tensor([[[1.0, 1.0, 10.0, 1.0]]])
    half = EdgeWeightedBCELoss()(logits, target, weight=weight)
    assert half.item() == pytest.approx((4 * math.log(2) - 10 * math.log(0.9)) / 2, rel=1e-5)
    ones = EdgeWeightedBCELoss()(logits, target, weight=torch.ones_like(weight))
    assert ones.item() == pytest.approx(EdgeWeightedBCELoss()(logits, target).item())


def test_edge_bce_binarises_soft_labels_and_skips_ignored():
    logits = torch.zeros(1, 1, 1, 3, requires_grad=True)
    soft = torch.tensor([[[0.6, 0.4, 255.0]]])
    hard = torch.tensor([[[1, 0, 255]]])
    loss_fn = EdgeWeightedBCELoss(hard_ratio=1.0)
    a, b = loss_fn(logits, soft), loss_fn(logits, hard)
    assert a.item() == pytest.approx(b.item())
    a.backward()
    assert logits.grad[0, 0, 0, 2] == 0
    with pytest.raises(ValueError, match='hard_ratio'):
        EdgeWeightedBCELoss(hard_ratio=0)
