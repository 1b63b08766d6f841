"""Ignore-aware segmentation losses and the hard-background contrastive loss."""

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmgsacp.models.losses import HardBackgroundContrastiveLoss, IgnoreBCELoss, SoftIoULoss
from mmgsacp.models.pseudo_labels import (
    IGNORE_INDEX,
    exclusion_zone,
    gather_windows,
    generate_point_targets,
    window_anchor,
)


def labels_with_ignore(seed=0, b=2, h=12, w=12):
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(b, h, w, generator=g) > 0.7).long()
    labels[torch.rand(b, h, w, generator=g) > 0.75] = IGNORE_INDEX
    return labels


def loss_and_grad(loss_fn, logits, labels):
    logits = logits.clone().requires_grad_(True)
    loss = loss_fn(logits, labels, ignore_index=IGNORE_INDEX)
    loss.backward()
    return loss.detach(), logits.grad


@pytest.mark.parametrize(
    'loss_fn', [IgnoreBCELoss(), IgnoreBCELoss(use_focal=True, alpha=0.25), SoftIoULoss()]
)
def test_ignored_pixels_change_neither_loss_nor_gradient(loss_fn):
    labels = labels_with_ignore()
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 1, 12, 12, generator=g)
    other = logits.clone()
    ignored = (labels == IGNORE_INDEX).unsqueeze(1)
    other[ignored] = 50.0 * torch.randn(int(ignored.sum()), generator=g)
    l1, g1 = loss_and_grad(loss_fn, logits, labels)
    l2, g2 = loss_and_grad(loss_fn, other, labels)
    assert torch.equal(l1, l2)
    assert torch.equal(g1, g2)
    assert not bool(g1[ignored].any())
    assert bool(g1[~ignored].abs().sum() > 0)


def test_bce_is_mean_over_valid_pixels():
    labels = labels_with_ignore()
    logits = torch.randn(2, 1, 12, 12)
    valid = labels != IGNORE_INDEX
    ref = F.binary_cross_entropy_with_logits(logits[:, 0][valid], labels[valid].float())
    assert torch.allclose(IgnoreBCELoss()(logits, labels), ref)
    # gamma = 0 and no alpha: the focal form is plain BCE.
    assert torch.allclose(IgnoreBCELoss(use_focal=True, gamma=0.0)(logits, labels), ref)
    assert torch.allclose(IgnoreBCELoss(loss_weight=2.0)(logits, labels), 2 * ref)


def test_bce_pos_weight_scales_the_target_term_only():
    labels = labels_with_ignore()
    logits = torch.randn(2, 1, 12, 12, generator=torch.Generator().manual_seed(3))
    valid = labels != IGNORE_INDEX
    x, t = logits[:, 0][valid], labels[valid].float()
    by_hand = -(4.0 * t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x)).mean()
    assert torch.allclose(IgnoreBCELoss(pos_weight=4.0)(logits, labels), by_hand)
    # background-only labels: the weight changes nothing
    zeros = torch.zeros_like(labels)
    assert torch.allclose(
        IgnoreBCELoss(pos_weight=4.0)(logits, zeros), IgnoreBCELoss()(logits, zeros)
    )
    with pytest.raises(ValueError, match='pos_weight'):
        IgnoreBCELoss(pos_weight=0.0)


@pytest.mark.parametrize('loss_fn', [IgnoreBCELoss(), IgnoreBCELoss(use_focal=True), SoftIoULoss()])
def test_all_ignored_gives_zero_with_gradient(loss_fn):
    logits = torch.randn(2, 1, 6, 6, requires_grad=True)
    labels = torch.full((2, 6, 6), IGNORE_INDEX, dtype=torch.long)
    loss = loss_fn(logits, labels)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.isfinite(logits.grad).all()


def test_soft_iou_values():
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    labels[0, 2:4, 2:4] = 1
    perfect = torch.where(labels.bool(), 30.0, -30.0).unsqueeze(1)
    assert float(SoftIoULoss()(perfect, labels)) < 1e-6
    # Per image, then mean: image 1 (half right) and image 2 (empty, all predicted) differ.
    pred = torch.full((2, 1, 8, 8), -30.0)
    pred[0, 0, 2:4, 2:3] = 30.0
    pred[1, 0, 0, 0] = 30.0
    per_image = torch.tensor([1 - (2 + 1) / (4 + 1), 1 - 1 / 2])
    assert torch.allclose(SoftIoULoss(smooth=1.0)(pred, labels), per_image.mean(), atol=1e-5)


def test_soft_targets_are_target_probabilities():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 1, 10, 10, generator=g)
    soft = torch.rand(2, 10, 10, generator=g)
    soft[:, :2] = IGNORE_INDEX
    valid = soft != IGNORE_INDEX
    ref = F.binary_cross_entropy_with_logits(logits[:, 0][valid], soft[valid])
    assert torch.allclose(IgnoreBCELoss()(logits, soft), ref)
    # soft IoU: the soft target enters the intersection and the union as it is
    p = torch.sigmoid(logits[:, 0]) * valid
    t = torch.where(valid, soft, torch.zeros(()))
    inter = (p * t).flatten(1).sum(1)
    iou = (inter + 1) / (p.flatten(1).sum(1) + t.flatten(1).sum(1) - inter + 1)
    assert torch.allclose(SoftIoULoss()(logits, soft), (1 - iou).mean())
    # 0/1 labels give the same loss as floats and as longs
    hard = labels_with_ignore(b=2, h=10, w=10)
    for loss_fn in (IgnoreBCELoss(), IgnoreBCELoss(use_focal=True), SoftIoULoss()):
        assert torch.allclose(loss_fn(logits, hard), loss_fn(logits, hard.float()))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        IgnoreBCELoss()(logits, soft * 3)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        SoftIoULoss()(logits, soft - 2)


def test_soft_iou_batch_reduction_and_point_labels():
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    labels[0, 2, 2] = labels[1, 5, 5] = 1  # one point per image
    empty = torch.full((2, 1, 8, 8), -30.0)
    # per image, predicting nothing on a one-pixel label already scores 0.5 ...
    assert torch.allclose(SoftIoULoss()(empty, labels), torch.tensor(0.5), atol=1e-6)
    # ... summed over the batch the points outweigh the smoothing term
    assert torch.allclose(
        SoftIoULoss(reduction='batch')(empty, labels), torch.tensor(1 - 1 / 3), atol=1e-6
    )
    pred = torch.full((2, 1, 8, 8), -30.0)
    pred[0, 0, 2, 2:4] = 30.0  # 1 hit + 1 extra in image 0, nothing in image 1
    assert torch.allclose(
        SoftIoULoss(reduction='batch')(pred, labels), torch.tensor(1 - (1 + 1) / (3 + 1)), atol=1e-5
    )
    with pytest.raises(ValueError, match='reduction'):
        SoftIoULoss(reduction='sum')


def test_registry_and_names():
    bce = MODELS.build(dict(type='IgnoreBCELoss', use_focal=True))
    iou = MODELS.build(dict(type='SoftIoULoss'))
    hbc = MODELS.build(dict(type='HardBackgroundContrastiveLoss', mode='margin'))
    assert (bce.loss_name, iou.loss_name, hbc.loss_name) == ('loss_bce', 'loss_softiou', 'loss_hbc')
    assert (
        MODELS.build(dict(type='IgnoreBCELoss', loss_name='loss_focal')).loss_name == 'loss_focal'
    )
    with pytest.raises(ValueError):
        IgnoreBCELoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))


# --------------------------------------------------------------------------------------------
# Hard-background contrastive loss
# --------------------------------------------------------------------------------------------
def blob_batch():
    """Two 32x32 images with a bright square each, bright clutter, and their prior targets."""
    img = 0.05 * torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    img[0, 0, 10:14, 10:14] += 1.0
    img[1, 0, 20:23, 5:9] += 1.0
    img[0, 0, 25:27, 25:27] += 1.5  # clutter beyond the window
    img[1, 0, 20:22, 14:15] += 2.0  # clutter inside the window, not connected
    points = torch.tensor([[0, 11, 11], [1, 6, 21]])
    targets = generate_point_targets(img, None, points, mode='prior', radius=6)
    return img, targets


def separation(emb, targets):
    """Mean region affinity to the anchor minus the hardest window-background affinity."""
    with torch.no_grad():
        win, inside = gather_windows(F.normalize(emb, dim=1), targets.points, targets.radius)
        a = torch.einsum('pdij,pd->pij', win, window_anchor(win, inside, targets.radius))
        lab = gather_windows(targets.labels.unsqueeze(1), targets.points, targets.radius)[0][:, 0]
        bg = targets.support & (lab == 0)
        hardest = a.masked_fill(~bg, -2.0).flatten(1).amax(1)
        return float(a[targets.regions].mean() - hardest.mean())


@pytest.mark.parametrize('rule', ['v2', 'v1'])
@pytest.mark.parametrize('mode', ['infonce', 'margin'])
def test_contrastive_loss_falls_as_embeddings_separate(mode, rule):
    img, targets = blob_batch()
    assert int(targets.regions.sum()) > 20
    emb = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    emb.requires_grad_(True)
    loss_fn = HardBackgroundContrastiveLoss(
        rule=rule, mode=mode, num_negatives=16, num_beyond=32, loss_weight=1.0
    )
    opt = torch.optim.SGD([emb], lr=5.0)

    def evaluate():
        torch.manual_seed(0)  # same draws beyond the window every time
        return float(loss_fn(emb, img, targets))

    loss0, gap0 = evaluate(), separation(emb, targets)
    torch.manual_seed(2)
    for _ in range(15):
        opt.zero_grad()
        loss = loss_fn(emb, img, targets)
        assert torch.isfinite(loss)
        loss.backward()
        opt.step()
    loss1, gap1 = evaluate(), separation(emb, targets)
    assert loss1 < 0.7 * loss0
    assert gap1 > gap0 + 0.3


def test_contrastive_no_points_is_zero_and_backprops():
    emb = torch.randn(2, 8, 16, 16, requires_grad=True)
    img = torch.randn(2, 1, 16, 16)
    targets = generate_point_targets(
        img, None, torch.zeros(0, 3, dtype=torch.long), mode='prior', radius=4
    )
    loss = HardBackgroundContrastiveLoss()(emb, img, targets)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert emb.grad is not None and not bool(emb.grad.any())


def test_contrastive_border_points_and_adaptive_support_are_finite():
    img = torch.randn(2, 1, 20, 20)
    img[0, 0, :3, :3] += 4
    emb = torch.randn(2, 8, 20, 20, requires_grad=True)
    points = torch.tensor([[0, 0, 0], [1, 19, 19], [1, 10, 0]])
    targets = generate_point_targets(
        img, F.normalize(emb.detach(), dim=1), points, radius=8, adaptive=True, r_min=2
    )
    for rule, mode in (('v2', 'infonce'), ('v2', 'margin'), ('v1', 'infonce'), ('v1', 'margin')):
        loss = HardBackgroundContrastiveLoss(rule=rule, mode=mode, num_beyond=500)(
            emb, img, targets
        )
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()


def test_first_form_pull_blob_pulls_the_prior_blob_beyond_the_region():
    img, prior = blob_batch()
    points = prior.points
    # regions collapsed to the points: only pull_blob reaches the rest of the bright square
    targets = generate_point_targets(img, None, points, mode='point', radius=6)
    emb0 = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(4))
    grads = {}
    for pull_blob in (False, True):
        emb = emb0.clone().requires_grad_(True)
        HardBackgroundContrastiveLoss(rule='v1', pull_blob=pull_blob, num_beyond=64)(
            emb, img, targets
        ).backward()
        grads[pull_blob] = emb.grad[0, :, 13, 13].abs().sum()  # in the square, off the anchor
    assert float(grads[False]) == 0.0
    assert float(grads[True]) > 0.0


def test_first_form_hard_negatives_are_background_brightest_then_most_similar():
    loss_fn = HardBackgroundContrastiveLoss(rule='v1', num_negatives=8, bright_fraction=0.5)
    negative = torch.tensor([[True, True, False, True, True, True, True, True, True, False]])
    brightness = torch.tensor([[9.0, 1.0, 100.0, 8.0, 0.0, 0.0, 0.0, 0.0, 7.0, 0.0]])
    affinity = torch.tensor([[0.0, 0.1, 1.0, 0.9, 0.2, 0.8, 0.7, 0.3, 0.0, 1.0]])
    index, valid = loss_fn._hard_negatives(negative, brightness, affinity)
    assert valid.all()
    assert index[0, :4].tolist() == [0, 3, 8, 1]  # brightest background
    assert index[0, 4:].tolist() == [5, 6, 7, 4]  # then most similar, no repeats
    # Fewer candidates than requested: padded with invalid picks.
    index, valid = loss_fn._hard_negatives(negative[:, :3], brightness[:, :3], affinity[:, :3])
    assert valid.sum() == 2 and index.shape == (1, 3)


# --------------------------------------------------------------------------------------------
# Revision 2: positives C_p | region_p, negatives clutter outside the exclusion zone
# --------------------------------------------------------------------------------------------
def clutter_batch():
    """Two 48x48 images: a target at each point, bright clutter near and far, and targets."""
    g = torch.Generator().manual_seed(2)
    img = 0.05 * torch.randn(2, 1, 48, 48, generator=g)
    img[0, 0, 10:14, 10:14] += 1.0
    img[0, 0, 30:34, 36:40] += 1.2  # far clutter
    img[1, 0, 20:24, 20:24] += 1.0
    img[1, 0, 21:23, 27:29] += 0.8  # clutter near the target, inside its window
    points = torch.tensor([[0, 11, 11], [1, 21, 21], [1, 44, 3]])
    targets = generate_point_targets(img, None, points, mode='prior', radius=8)
    return img, targets


def test_negatives_never_fall_inside_the_exclusion_zone():
    img, targets = clutter_batch()
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(2, 8, 48, 48, generator=g)
    # A confident prediction on the targets, the clutter and a blob touching the zone.
    prob = torch.zeros(2, 1, 48, 48)
    prob[0, 0, 9:15, 9:15] = 0.9
    prob[0, 0, 30:34, 36:40] = 0.8  # false positive, far
    prob[1, 0, 19:25, 19:31] = 0.9  # the target and its neighbour in one blob: not clutter
    prob[1, 0, 40:44, 40:44] = 0.7  # false positive
    loss_fn = HardBackgroundContrastiveLoss(num_negatives=48, num_beyond=400)
    zone = exclusion_zone(targets)
    torch.manual_seed(0)
    neg = loss_fn.mine(emb, targets, prob)
    assert torch.equal(neg.zone, zone)
    # every point's core blob, dilated by 3 px, and the 9x9 square at each point are in Z
    assert bool(zone[1, 0:8, 40:48].all()) and bool(zone[1, 17:27, 17:27].all())
    assert not bool(zone[1, 27, 17:27].any()) and not bool(zone[1, 16, 17:27].any())
    picked = neg.pixels[neg.valid]
    rows = targets.points[:, 0:1].expand_as(neg.pixels)[neg.valid]
    assert picked.numel() > 0
    assert not bool(zone.reshape(2, -1)[rows, picked].any())
    # false positives: both far blobs, nothing of the blob that touches the zone
    fp = neg.false_positive
    assert bool(fp[0, 30:34, 36:40].all()) and bool(fp[1, 40:44, 40:44].all())
    assert not bool(fp[1, 19:25, 19:31].any()) and not bool(fp[0, 9:15, 9:15].any())
    # they come first, most confident first; then far pixels (outside every window)
    first = neg.from_false_positive
    assert bool(first[:, :16].all())
    far = neg.valid & ~first
    assert bool(far.any())
    y, x = neg.pixels // 48, neg.pixels % 48
    for b in (0, 1):
        mine = targets.points[:, 0] == b
        for px, py in targets.points[mine, 1:].tolist():
            near = ((x - px).abs() <= 8) & ((y - py).abs() <= 8)
            assert not bool((near & far & mine.view(-1, 1)).any())


def test_positives_are_core_and_region_and_the_anchor_is_detached():
    img, targets = clutter_batch()
    emb = torch.randn(2, 8, 48, 48, generator=torch.Generator().manual_seed(1))
    emb.requires_grad_(True)
    # regions collapsed to the points: the core blob is still pulled
    point_targets = targets._replace(regions=torch.zeros_like(targets.regions))
    loss = HardBackgroundContrastiveLoss()(
        emb, img, point_targets, negatives=None, affinity_weight=1.0
    )
    loss.backward()
    assert float(emb.grad[0, :, 13, 13].abs().sum()) > 0  # core pixel off the anchor cell
    # with only the point as positive, the rest of its 3x3 cell gets gradient only through
    # the anchor: none, since the anchor is detached
    only_point = torch.zeros_like(targets.core)
    only_point[:, 8, 8] = True
    emb.grad = None
    HardBackgroundContrastiveLoss()(
        emb, img, targets._replace(core=only_point, regions=only_point)
    ).backward()
    assert float(emb.grad[0, :, 11, 11].abs().sum()) > 0
    assert float(emb.grad[0, :, 10:13, 10:13].abs().sum()) == pytest.approx(
        float(emb.grad[0, :, 11, 11].abs().sum())
    )
    with pytest.raises(ValueError, match='detach'):
        HardBackgroundContrastiveLoss(detach_anchor=False)


def test_contrastive_weight_follows_warm_up():
    img, targets = clutter_batch()
    emb = torch.randn(2, 8, 48, 48, requires_grad=True)
    loss_fn = HardBackgroundContrastiveLoss(loss_weight=0.1)
    torch.manual_seed(0)
    full = loss_fn(emb, img, targets, affinity_weight=1.0)
    torch.manual_seed(0)
    half = loss_fn(emb, img, targets, affinity_weight=0.5)
    assert float(full) > 0
    assert float(half) == pytest.approx(0.5 * float(full))
    zero = loss_fn(emb, img, targets, affinity_weight=0.0)
    zero.backward()
    assert float(zero) == 0.0 and not bool(emb.grad.any())


def test_false_positive_weight_reaches_the_segmentation_loss():
    img, targets = clutter_batch()
    prob = torch.zeros(2, 1, 48, 48)
    prob[0, 0, 30:34, 36:40] = 0.8
    loss_fn = HardBackgroundContrastiveLoss(fp_weight=4.0)
    neg = loss_fn.mine(torch.randn(2, 8, 48, 48), targets, prob)
    weight = loss_fn.background_weight(neg, targets.labels)
    assert bool((weight[0, 30:34, 36:40] == 4.0).all())
    assert int((weight != 1.0).sum()) == 16
    logits = torch.zeros(2, 1, 48, 48, requires_grad=True)
    IgnoreBCELoss()(logits, targets.labels, weight=weight).backward()
    g = logits.grad[:, 0]
    assert float(g[0, 31, 37]) == pytest.approx(4.0 * float(g[0, 5, 40]))


@pytest.mark.parametrize('focal', [False, True])
def test_bce_masked_equals_the_selected_pixels_mean_without_syncs(focal):
    """The loss over valid pixels, with weights, computed without a data-dependent selection;
    ignored pixels get exactly zero gradient even for huge logits."""
    from mmgsacp.utils.sync_counter import SyncCounter

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, generator=g) * 3
    logits[0, 0, 0, 0] = 1e30
    target = torch.randint(0, 2, (2, 8, 8), generator=g)
    target[0, 0, 0] = 255
    target[1, :2] = 255
    weight = torch.rand(2, 8, 8, generator=g) + 0.5
    logits.requires_grad_(True)
    loss_fn = IgnoreBCELoss(use_focal=focal, alpha=0.3 if focal else None)
    with SyncCounter(device='cpu') as syncs:
        loss = loss_fn(logits, target, weight=weight)
    assert syncs.total == 0
    valid = target != 255
    x, t = logits[:, 0][valid], target[valid].float()
    ref = F.binary_cross_entropy_with_logits(x, t, reduction='none')
    if focal:
        p = torch.sigmoid(x)
        ref = ref * (1 - (p * t + (1 - p) * (1 - t))).pow(2.0) * (0.3 * t + 0.7 * (1 - t))
    ref = (ref * weight[valid]).sum() / valid.sum()
    assert torch.allclose(loss, ref, rtol=1e-6, atol=1e-7)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad[:, 0][~valid] == 0).all()
