"""Online point-to-mask targets: synthetic blobs, and the first form (``rule='v1'``) batched
against a per-point loop."""

import math
from collections import deque

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmgsacp.models.pseudo_labels import (
    IGNORE_INDEX,
    PointTargets,
    dilate3x3,
    gather_windows,
    generate_point_targets,
    region_area,
    touches_support_edge,
    window_of,
)

from .embeddings import ideal_embedding


def ellipse(h, w, cy, cx, ry, rx):
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def scene(masks, h=64, w=64, amp=1.0, noise=0.05, seed=0):
    """Image (B, 1, H, W): bright blobs on Gaussian noise; masks: list per image of (H, W)."""
    g = torch.Generator().manual_seed(seed)
    img = noise * torch.randn(len(masks), 1, h, w, generator=g)
    for b, m in enumerate(masks):
        img[b, 0][m] += amp
    return img


def iou(a, b):
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


def pts(*rows):
    return torch.tensor(rows, dtype=torch.long).view(-1, 3)


# --------------------------------------------------------------------------------------------
# Synthetic blobs
# --------------------------------------------------------------------------------------------
def test_affinity_recovers_blob():
    blob = ellipse(64, 64, 30, 33, 4, 6)
    img = scene([blob])
    t = generate_point_targets(img, ideal_embedding([blob]), pts(0, 33, 30))
    assert isinstance(t, PointTargets)
    assert t.labels.dtype == torch.long and t.labels.shape == (1, 64, 64)
    assert iou(t.labels[0] == 1, blob) > 0.9
    assert int(region_area(t)[0]) == int((t.labels == 1).sum())
    assert not bool(touches_support_edge(t)[0])


@pytest.mark.parametrize('mode', ['affinity', 'prior'])
def test_stays_in_connected_component(mode):
    a = ellipse(64, 64, 32, 26, 3, 3)
    b = ellipse(64, 64, 32, 36, 3, 3)  # same look, 4 background columns away
    img = scene([a | b])
    emb = ideal_embedding([a | b])
    t = generate_point_targets(img, emb, pts(0, 26, 32), mode=mode)
    target = t.labels[0] == 1
    assert iou(target, a) > 0.9
    assert not bool((target & b).any())
    assert bool(window_of(b[None, None].float(), t).bool().any())  # b lies in the window


def test_prior_mode_bright_blob_on_noise():
    blob = ellipse(64, 64, 20, 40, 3, 5)
    img = scene([blob], amp=1.0, noise=0.1, seed=3)
    t = generate_point_targets(img, None, pts(0, 40, 20), mode='prior')
    assert iou(t.labels[0] == 1, blob) > 0.9
    assert not bool(t.ignore.any())


def test_point_mode_only_points():
    blob = ellipse(64, 64, 20, 40, 3, 5)
    t = generate_point_targets(
        scene([blob, blob]), None, pts([0, 40, 20], [1, 3, 60]), mode='point'
    )
    assert int((t.labels == 1).sum()) == 2
    assert int(t.labels[0, 20, 40]) == 1 and int(t.labels[1, 60, 3]) == 1
    assert not bool((t.labels == IGNORE_INDEX).any())


def test_first_form_ignore_band_is_labelled_and_connected():
    core = ellipse(64, 64, 32, 32, 3, 3)
    blob = ellipse(64, 64, 32, 32, 5, 5)
    shell = blob & ~core
    clutter = ellipse(64, 64, 32, 44, 2, 2)  # bright, uncertain affinity, not connected
    img = scene([blob | clutter])
    emb = ideal_embedding([core], shells=[shell | clutter])
    t = generate_point_targets(img, emb, pts(0, 32, 32), rule='v1')
    labels = t.labels[0]
    assert torch.equal(labels == 1, core)
    assert torch.equal(labels == IGNORE_INDEX, shell)
    assert not bool((labels[clutter] != 0).any())
    assert not bool((t.ignore & t.regions).any())


def test_targets_carry_no_gradient():
    blob = ellipse(32, 32, 16, 16, 3, 3)
    emb = ideal_embedding([blob]).requires_grad_(True)
    img = scene([blob], h=32, w=32).requires_grad_(True)
    t = generate_point_targets(img, emb, pts(0, 16, 16), radius=8)
    for v in (t.labels, t.regions, t.ignore, t.support, t.gate):
        assert v.grad_fn is None and not v.requires_grad


def test_border_points_clip_windows():
    corner = ellipse(40, 40, 0, 0, 3, 4)
    edge = ellipse(40, 40, 39, 20, 2, 3)
    img = scene([corner | edge], h=40, w=40)
    emb = ideal_embedding([corner | edge])
    t = generate_point_targets(img, emb, pts([0, 0, 0], [0, 20, 39]), radius=8)
    assert iou(t.labels[0] == 1, corner | edge) > 0.9
    # Window positions outside the image are never in the support.
    _, inside = gather_windows(img, t.points, 8)
    assert torch.equal(t.support, inside)
    assert int(t.support[0].sum()) == 9 * 9
    assert not bool(touches_support_edge(t).any())


def test_first_form_close_points_give_union():
    a = ellipse(64, 64, 30, 28, 3, 3)
    b = ellipse(64, 64, 30, 36, 3, 3)
    core_b = ellipse(64, 64, 30, 36, 2, 2)
    img = scene([a | b])
    emb = ideal_embedding([a | core_b], shells=[b & ~core_b])
    both = generate_point_targets(img, emb, pts([0, 28, 30], [0, 36, 30]), rule='v1')
    one = generate_point_targets(img, emb, pts(0, 28, 30), rule='v1')
    two = generate_point_targets(img, emb, pts(0, 36, 30), rule='v1')
    target = (one.labels == 1) | (two.labels == 1)
    ignore = ((one.labels == IGNORE_INDEX) | (two.labels == IGNORE_INDEX)) & ~target
    assert torch.equal(both.labels == 1, target)
    assert torch.equal(both.labels == IGNORE_INDEX, ignore)
    assert bool(ignore.any())
    assert torch.equal(both.regions[0], one.regions[0])


def test_no_points():
    img = torch.randn(2, 1, 16, 16)
    emb = F.normalize(torch.randn(2, 4, 16, 16), dim=1)
    for adaptive in (False, True):
        t = generate_point_targets(
            img, emb, torch.zeros(0, 3, dtype=torch.long), radius=4, adaptive=adaptive
        )
        assert t.labels.shape == (2, 16, 16) and not bool(t.labels.any())
        assert t.regions.shape == (0, 9, 9) and t.half_sizes.shape == (0, 2)
        assert region_area(t).shape == (0,) and touches_support_edge(t).shape == (0,)


@pytest.mark.parametrize('rule', ['v2', 'v1'])
def test_warmup_zero_equals_prior(rule):
    g = torch.Generator().manual_seed(1)
    img = torch.randn(2, 1, 48, 48, generator=g)
    blob = ellipse(48, 48, 20, 20, 4, 3)
    img[:, 0][:, blob] += 3.0
    emb = F.normalize(torch.randn(2, 4, 48, 48, generator=g), dim=1)
    p = pts([0, 20, 20], [1, 20, 20], [1, 5, 40])
    prior = generate_point_targets(img, None, p, mode='prior', rule=rule)
    # w = 0.1 takes the affinity path, but s >= 1 - 0.2 = tau_pos in the core and
    # s <= 0.1 <= tau_neg in the band (v2).
    for w in (0.0, 0.1):
        warm = generate_point_targets(img, emb, p, affinity_weight=w, rule=rule)
        assert torch.equal(warm.labels, prior.labels)
        assert torch.equal(warm.regions, prior.regions)
    full = generate_point_targets(img, emb, p, affinity_weight=1.0, rule=rule)
    assert int(region_area(full).sum()) < int(region_area(prior).sum())


def test_adaptive_support_follows_target_size():
    tiny = torch.zeros(64, 64, dtype=torch.bool)
    tiny[16, 16] = True
    large = torch.zeros(64, 64, dtype=torch.bool)
    large[40:50, 40:50] = True  # 100 px
    img = scene([tiny | large])
    p = pts([0, 16, 16], [0, 45, 45])
    t = generate_point_targets(img, None, p, mode='prior', adaptive=True, r_min=4, r_max=16)
    ry, rx = t.half_sizes.unbind(1)
    assert t.radius == 16
    assert bool(((t.half_sizes >= 4) & (t.half_sizes <= 16)).all())
    assert int(ry[0]) < int(ry[1]) and int(rx[0]) < int(rx[1])
    assert int(t.support[0].sum()) < int(t.support[1].sum())
    assert iou(t.labels[0] == 1, tiny | large) > 0.9


def test_point_outside_image_raises():
    img = torch.randn(2, 1, 16, 16)
    with pytest.raises(ValueError, match='batch index 1'):
        generate_point_targets(img, None, pts([0, 3, 3], [1, 16, 2]), mode='prior')
    with pytest.raises(ValueError, match='batch index 2'):
        generate_point_targets(img, None, pts(2, 3, 3), mode='prior')
    with pytest.raises(ValueError, match='embedding'):
        generate_point_targets(img, None, pts(0, 3, 3), mode='affinity')


def test_dilate3x3_matches_max_pool():
    g = torch.Generator().manual_seed(0)
    m = torch.rand(3, 2, 11, 11, generator=g) > 0.8
    ref = F.max_pool2d(m.float(), 3, 1, 1).bool()
    assert torch.equal(dilate3x3(m), ref)


# --------------------------------------------------------------------------------------------
# Batched vs an independent per-point reference (pixel loops, BFS, float64)
# --------------------------------------------------------------------------------------------
def reference_targets(
    image,
    emb,
    points,
    *,
    radius,
    kappa,
    beta,
    tau_pos,
    tau_neg,
    ring_width,
    affinity_weight,
    mode,
    adaptive,
    r_min,
    r_max,
    scale,
    pad,
):
    R, w = radius, affinity_weight
    img = image[:, 0].double().numpy()
    E = emb.double().numpy()
    E = E / np.linalg.norm(E, axis=1, keepdims=True)
    B, H, W = img.shape
    S = 2 * R + 1
    prio = np.zeros((B, H, W), dtype=np.int64)
    out = {k: [] for k in ('regions', 'ignore', 'support', 'gate', 'half')}
    for b, x, y in points.tolist():

        def pixel(i, j):
            return y + i - R, x + j - R

        def inside(i, j):
            yy, xx = pixel(i, j)
            return 0 <= yy < H and 0 <= xx < W

        def gate_for(ry, rx):
            sup = {
                (i, j)
                for i in range(S)
                for j in range(S)
                if inside(i, j) and abs(i - R) <= ry and abs(j - R) <= rx
            }
            ring = [
                p for p in sup if abs(p[0] - R) > ry - ring_width or abs(p[1] - R) > rx - ring_width
            ] or list(sup)
            vals = np.array([img[(b,) + pixel(*p)] for p in ring])
            mu, sigma = vals.mean(), vals.std()
            peak = max(
                img[(b,) + pixel(i, j)]
                for i in range(R - 1, R + 2)
                for j in range(R - 1, R + 2)
                if inside(i, j)
            )
            gate = {
                p
                for p in sup
                if img[(b,) + pixel(*p)] >= mu + kappa * sigma
                and img[(b,) + pixel(*p)] - mu >= beta * (peak - mu)
            }
            return sup, gate

        def grow(cands, steps):
            seen = {(R, R)}
            frontier = deque([((R, R), 0)])
            while frontier:
                (i, j), d = frontier.popleft()
                if d == steps:
                    continue
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        q = (i + di, j + dj)
                        if q in cands and q not in seen:
                            seen.add(q)
                            frontier.append((q, d + 1))
            return seen

        if adaptive:
            _, g0 = gate_for(R, R)
            blob = grow(g0, R)
            ey = max(abs(i - R) for i, _ in blob)
            ex = max(abs(j - R) for _, j in blob)
            ry = int(min(max(math.ceil(scale * ey) + pad, r_min), r_max))
            rx = int(min(max(math.ceil(scale * ex) + pad, r_min), r_max))
        else:
            ry = rx = R
        sup, gate = gate_for(ry, rx)
        if mode == 'point':
            reg, ign = {(R, R)}, set()
        elif mode == 'affinity' and w > 0:
            cell = [
                E[(b, slice(None)) + pixel(i, j)]
                for i in range(R - 1, R + 2)
                for j in range(R - 1, R + 2)
                if inside(i, j)
            ]
            anchor = np.mean(cell, axis=0)
            anchor /= np.linalg.norm(anchor)
            score = {p: 1 - w * (1 - float(E[(b, slice(None)) + pixel(*p)] @ anchor)) for p in gate}
            tc = {p for p in gate if score[p] >= tau_pos}
            mc = tc | {p for p in gate if score[p] > tau_neg}
            reg = grow(tc, R)
            ign = grow(mc, R) - reg
        else:
            reg, ign = grow(gate, R), set()

        def to_mask(cells):
            m = np.zeros((S, S), dtype=bool)
            for i, j in cells:
                m[i, j] = True
            return m

        for i, j in ign:
            prio[(b,) + pixel(i, j)] = max(prio[(b,) + pixel(i, j)], 1)
        for i, j in reg:
            prio[(b,) + pixel(i, j)] = 2
        out['regions'].append(to_mask(reg))
        out['ignore'].append(to_mask(ign))
        out['support'].append(to_mask(sup))
        out['gate'].append(to_mask(gate))
        out['half'].append((ry, rx))
    labels = np.choose(prio, [0, IGNORE_INDEX, 1])
    return labels, {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize('adaptive', [False, True])
@pytest.mark.parametrize(
    'mode,w', [('affinity', 1.0), ('affinity', 0.6), ('prior', 0.0), ('point', 1.0)]
)
def test_first_form_batched_equals_per_point_reference(adaptive, mode, w):
    g = torch.Generator().manual_seed(7)
    B, D, H, W, R = 3, 4, 24, 28, 6
    img = 0.3 * torch.randn(B, 1, H, W, generator=g)
    for _ in range(6):
        b, cy, cx = (int(torch.randint(0, n, (1,), generator=g)) for n in (B, H, W))
        img[b, 0] += 2.0 * ellipse(H, W, cy, cx, 1 + cy % 3, 1 + cx % 4)
    # Smooth random embedding: affinities spread over the whole [tau_neg, tau_pos] range.
    emb = F.avg_pool2d(torch.randn(B, D, H, W, generator=g), 5, 1, 2)
    emb = F.normalize(emb + 0.2, dim=1)
    P = 10
    points = torch.stack(
        [
            torch.randint(0, B, (P,), generator=g),
            torch.randint(0, W, (P,), generator=g),
            torch.randint(0, H, (P,), generator=g),
        ],
        1,
    )
    points[:3, 1:] = torch.tensor([[0, 0], [W - 1, 5], [3, H - 1]])  # clipped windows
    # Both get the same settings, under the library's argument names.
    gate = dict(kappa=0.5, beta=0.2, tau_pos=0.85, tau_neg=0.4, ring_width=2)
    window = dict(radius=R, r_min=2, r_max=R, adaptive=adaptive, mode=mode, affinity_weight=w)
    t = generate_point_targets(img, emb, points, rule='v1', **gate, **window)
    labels, ref = reference_targets(img, emb, points, scale=2.0, pad=2, **gate, **window)
    np.testing.assert_array_equal(t.half_sizes.numpy(), ref['half'])
    np.testing.assert_array_equal(t.support.numpy(), ref['support'])
    np.testing.assert_array_equal(t.gate.numpy(), ref['gate'])
    np.testing.assert_array_equal(t.regions.numpy(), ref['regions'])
    np.testing.assert_array_equal(t.ignore.numpy(), ref['ignore'])
    np.testing.assert_array_equal(t.labels.numpy(), labels)
    # The data must exercise growth (and the ignore band where it exists).
    if mode != 'point':
        assert ref['regions'].sum() > 2 * P
    if mode == 'affinity':
        assert ref['ignore'].sum() > 0
    if adaptive:
        assert len(set(map(tuple, ref['half'].tolist()))) > 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(3)
    img = torch.randn(4, 1, 64, 64, generator=g)
    img[:, :, 20:26, 30:34] += 4
    emb = F.normalize(F.avg_pool2d(torch.randn(4, 8, 64, 64, generator=g), 5, 1, 2), dim=1)
    p = pts([0, 31, 22], [1, 31, 22], [2, 0, 63], [3, 10, 10])
    for adaptive, rule in ((False, 'v2'), (True, 'v2'), (False, 'v1'), (True, 'v1')):
        cpu = generate_point_targets(img, emb, p, adaptive=adaptive, rule=rule)
        gpu = generate_point_targets(img.cuda(), emb.cuda(), p.cuda(), adaptive=adaptive, rule=rule)
        assert gpu.labels.is_cuda
        assert torch.equal(gpu.labels.cpu(), cpu.labels)
        assert torch.equal(gpu.regions.cpu(), cpu.regions)
