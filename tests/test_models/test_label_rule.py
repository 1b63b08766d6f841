"""The two-level label rule on synthetic blobs with ideal embeddings, fixed-step growth, and the
first form reproduced."""

import os.path as osp
from collections import deque

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmgsacp.models.pseudo_labels import (
    IGNORE_INDEX,
    generate_point_targets,
    propagate,
    propagate_until_stable,
    ring_scaled_affinity,
    window_of,
)

from .embeddings import ideal_embedding

FIXTURE = osp.join(osp.dirname(osp.dirname(__file__)), 'data', 'first_form_targets.npz')


def disc(h, w, cy, cx, r):
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def rim_scene(core_r, rim_r, size=64, noise=0.02, core_amp=1.0, rim_amp=0.25, seed=0):
    """A bright disc (core gate) inside a dim ring (loose gate only), on faint noise.

    With ring mean ~0 and std ~noise, the rim passes ``I >= mu + sigma`` and
    ``I - mu >= 0.15 * peak`` but not ``I - mu >= 0.3 * peak``.
    """
    c = size // 2
    core = disc(size, size, c, c, core_r)
    rim = disc(size, size, c, c, rim_r) & ~core
    g = torch.Generator().manual_seed(seed)
    img = noise * torch.randn(1, 1, size, size, generator=g)
    img[0, 0][core] += core_amp
    img[0, 0][rim] += rim_amp
    return img, core, rim, torch.tensor([[0, c, c]])


def test_core_is_never_background():
    g = torch.Generator().manual_seed(3)
    img = 0.3 * torch.randn(3, 1, 40, 40, generator=g)
    for b, (cy, cx, r) in enumerate([(12, 14, 3), (20, 20, 5), (30, 8, 2)]):
        img[b, 0][disc(40, 40, cy, cx, r)] += 2.0 - 0.1 * r
    # A rough embedding: affinities anywhere in [-1, 1], many core pixels below tau_neg.
    emb = torch.randn(3, 4, 40, 40, generator=g)
    points = torch.tensor([[0, 14, 12], [1, 20, 20], [1, 23, 22], [2, 8, 30], [2, 0, 0]])
    seen_abstain = False
    for w in (0.3, 0.7, 1.0):
        for adaptive in (False, True):
            t = generate_point_targets(
                img, emb, points, radius=8, affinity_weight=w, adaptive=adaptive
            )
            assert not bool((t.core & ~t.regions & ~t.ignore).any())
            core_label = window_of(t.labels.unsqueeze(1), t)[:, 0]
            assert not bool(((core_label == 0) & t.core).any())
            seen_abstain |= bool((t.core & t.ignore).any())
            assert bool(t.regions[:, 8, 8].all())  # the point is always target
    assert seen_abstain  # the affinity did abstain somewhere, so the test can fail


def test_band_pixel_joins_with_high_affinity_and_is_background_with_low():
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    left = rim & (torch.arange(64).view(1, -1) < 32)
    right = rim & ~left
    t = generate_point_targets(img, ideal_embedding([core | left]), points)
    assert torch.equal(t.core[0], window_of(core[None, None].float(), t)[0, 0] > 0.5)
    assert torch.equal(t.band[0], window_of(rim[None, None].float(), t)[0, 0] > 0.5)
    labels = t.labels[0]
    assert bool((labels[core] == 1).all())
    assert bool((labels[left] == 1).all())
    assert bool((labels[right] == 0).all())
    assert int((labels == 1).sum()) < 2 * int(core.sum())  # under the band limit
    assert not bool((labels == IGNORE_INDEX).any())


def test_band_in_between_is_ignored_and_unreached_band_is_background():
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    emb = ideal_embedding([core])
    # Rim pixels with cosine 0.65 to the anchor: neither target (< 0.8) nor background (> 0.5).
    unsure = rim & (torch.arange(64).view(-1, 1) < 32)
    emb[0][:, unsure] = torch.tensor([0.0, 0.65, (1 - 0.65**2) ** 0.5, 0.0]).view(4, 1)
    t = generate_point_targets(img, emb, points)
    labels = t.labels[0]
    assert bool((labels[unsure] == IGNORE_INDEX).all())
    assert bool((labels[rim & ~unsure] == 0).all())
    assert bool((labels[core] == 1).all())


def test_ring_scale_rejects_a_rim_that_only_crowded_cosines_admit():
    """Post-ReLU features: every cosine is high, so only the window's own references separate.

    Core and target half of the rim at cosine 1, clutter half of the rim and the background at
    0.85 (above tau_pos on the raw scale). On the ring scale the clutter scores as background.
    """
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    left = rim & (torch.arange(64).view(1, -1) < 32)
    emb = ideal_embedding([core | left])
    crowded = torch.tensor([(1 - 0.85**2) ** 0.5, 0.85, 0.0, 0.0]).view(1, 4, 1, 1)
    emb = torch.where(emb[:, 1:2] > 0.5, emb, crowded.expand_as(emb))
    raw = generate_point_targets(img, emb, points, affinity_scale='cosine')
    # The raw scale cannot reject the clutter (it joins, and the leak then ignores the band).
    assert not bool((raw.labels[0][rim & ~left] == 0).any())
    ring = generate_point_targets(img, emb, points, affinity_scale='ring')
    labels = ring.labels[0]
    assert bool((labels[core] == 1).all())
    assert bool((labels[left] == 1).all())
    assert bool((labels[rim & ~left] == 0).all())


def test_ring_scaled_affinity_maps_ring_to_0_and_core_to_1():
    aff = torch.full((2, 5, 5), 0.9)
    core = torch.zeros(2, 5, 5, dtype=torch.bool)
    core[:, 1:4, 1:4] = True
    ring = ~core
    aff[0][core[0]] = 1.0
    aff[1][core[1]] = 0.91  # core and ring alike: the gap is clamped, no division by noise
    out = ring_scaled_affinity(aff, core, ring)
    assert torch.allclose(out[0][core[0]], torch.ones(9), atol=1e-5)
    assert torch.allclose(out[0][ring[0]], torch.zeros(16), atol=1e-5)
    assert float(out[1].max()) <= 0.21
    with pytest.raises(ValueError, match='affinity_scale'):
        generate_point_targets(
            torch.zeros(1, 1, 8, 8), None, torch.tensor([[0, 4, 4]]), affinity_scale='nope'
        )


def test_region_over_twice_the_core_ignores_its_band():
    img, core, rim, points = rim_scene(core_r=2, rim_r=4)
    assert int((core | rim).sum()) > 2 * int(core.sum())
    t = generate_point_targets(img, ideal_embedding([core | rim]), points)
    labels = t.labels[0]
    assert bool((labels[core] == 1).all())
    assert bool((labels[rim] == IGNORE_INDEX).all())
    # Raise the limit and the same band joins.
    loose = generate_point_targets(img, ideal_embedding([core | rim]), points, band_limit=4.0)
    assert bool((loose.labels[0][core | rim] == 1).all())


def test_warm_up_blends_from_the_prior():
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    emb = ideal_embedding([core | rim])
    prior = generate_point_targets(img, None, points, mode='prior')
    start = generate_point_targets(img, emb, points, affinity_weight=0.0)
    assert torch.equal(start.labels, prior.labels)
    assert torch.equal(prior.labels[0] == 1, core)
    # band_prior=1 makes the whole band target before the affinity fades in.
    eager = generate_point_targets(
        img, None, points, affinity_weight=0.0, band_prior=1.0, band_limit=4.0
    )
    assert torch.equal(eager.labels[0] == 1, core | rim)


def test_prediction_decides_the_band_when_asked():
    """band_source='prediction': the probability decides the rim; the affinity only the core."""
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    left = rim & (torch.arange(64).view(1, -1) < 32)
    top = rim & (torch.arange(64).view(-1, 1) < 32)
    emb = ideal_embedding([core | left])  # the affinity would take the left half of the rim
    prob = torch.zeros(1, 1, 64, 64)
    prob[0, 0][core | top] = 0.9
    prob[0, 0][rim & ~top & ~left] = 0.3  # between band_tau's two thresholds
    t = generate_point_targets(
        img, emb, points, band_source='prediction', band_evidence=prob, band_tau=(0.5, 0.2)
    )
    labels = t.labels[0]
    assert bool((labels[core] == 1).all())
    assert bool((labels[top] == 1).all())
    assert bool((labels[rim & ~top & ~left] == IGNORE_INDEX).all())
    assert bool((labels[left & ~top] == 0).all())  # probability 0: background
    # The default source is unchanged by the evidence.
    by_affinity = generate_point_targets(img, emb, points, band_evidence=prob)
    assert bool((by_affinity.labels[0][left] == 1).all())
    # Before the warm-up the band is background whatever the evidence says.
    start = generate_point_targets(
        img, emb, points, band_source='prediction', band_evidence=prob, affinity_weight=0.0
    )
    assert torch.equal(start.labels[0] == 1, core)


def test_ignored_band_is_neither_target_nor_background():
    """band_source='ignore': the rim is ignored at every warm-up weight, in 'prior' mode too."""
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    emb = ideal_embedding([core | rim])  # an affinity that would take the whole rim
    for w in (0.0, 0.5, 1.0):
        t = generate_point_targets(
            img, emb, points, band_source='ignore', affinity_weight=w, band_limit=4.0
        )
        labels = t.labels[0]
        assert bool((labels[core] == 1).all()), w
        assert bool((labels[rim] == IGNORE_INDEX).all()), w
        assert not bool((labels[~core & ~rim] == IGNORE_INDEX).any()), w
    prior = generate_point_targets(img, None, points, mode='prior', band_source='ignore')
    assert torch.equal(prior.labels[0] == 1, core)
    assert torch.equal(prior.labels[0] == IGNORE_INDEX, rim)
    # Without a band nothing is ignored: the rim is background, as by default.
    none = generate_point_targets(
        img, None, points, mode='prior', band_source='ignore', band_steps=0
    )
    assert torch.equal(none.labels[0] == 1, core) and bool((none.labels[0][rim] == 0).all())
    default = generate_point_targets(img, None, points, mode='prior')
    assert bool((default.labels[0][rim] == 0).all())


def test_a_point_the_prior_cannot_see_abstains_on_its_support():
    """min_core: a core blob smaller than min_core px ignores its support but the point."""
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    dim = torch.cat([points, torch.tensor([[0, 10, 10]])])  # a point on flat noise
    emb = ideal_embedding([core])
    for mode in ('prior', 'affinity'):
        t = generate_point_targets(img, emb, dim, mode=mode, radius=6, min_core=4)
        labels = t.labels[0]
        assert bool((labels[core] == 1).all()), mode  # a seen target is unchanged
        assert int(labels[10, 10]) == 1, mode  # the blind point stays target
        assert not bool((labels[4:17, 4:17] == 0).any()), mode  # nothing taught as background
        off = generate_point_targets(img, emb, dim, mode=mode, radius=6)
        assert int((off.labels[0][4:17, 4:17] == 0).sum()) > 160, mode  # by default: background
    with pytest.raises(ValueError, match='min_core'):
        generate_point_targets(img, emb, dim, min_core=-1)


def test_a_point_the_strict_gate_cannot_see_is_grown_through_looser_gates():
    """fallback_gates: a dim body under a bright point pixel fails beta=0.3 and passes a looser
    gate; the first gate that sees it gives the point its core, a point no gate sees abstains."""
    g = torch.Generator().manual_seed(0)
    img = 0.02 * torch.randn(1, 1, 64, 64, generator=g)
    bodies = []
    for cy, cx, amp in ((16, 16, 0.27), (16, 48, 0.15)):  # seen by (1.5, 0.2) / only (1, 0.1)
        body = disc(64, 64, cy, cx, 3)
        img[0, 0][body] += amp
        img[0, 0, cy, cx] += 1.0 - amp  # the point is far brighter than the body
        bodies.append(body)
    seen, _, _, _ = rim_scene(core_r=3, rim_r=3)  # an ordinary target
    img[0, 0, 32:, :] = seen[0, 0, 16:48, :]
    seen_body = disc(64, 64, 48, 32, 3)
    img[0, 0, 40, 5] += 1.0  # a lone bright pixel: no gate grows it past the point
    points = torch.tensor([[0, 16, 16], [0, 48, 16], [0, 32, 48], [0, 5, 40]])
    ladder = ((1.5, 0.2), (1.0, 0.1))
    for mode in ('prior', 'affinity'):
        emb = ideal_embedding([bodies[0] | bodies[1] | seen_body])
        kw = dict(mode=mode, radius=8, adaptive=True, r_max=8, min_core=4)
        blind = generate_point_targets(img, emb, points, **kw)
        grown = generate_point_targets(img, emb, points, fallback_gates=ladder, **kw)
        one = generate_point_targets(img, emb, points, fallback_gates=ladder[:1], **kw)
        for body in bodies:
            assert int((blind.labels[0][body] == 1).sum()) == 1, mode  # the point alone
            assert bool((grown.labels[0][body] == 1).all()), mode
        assert bool((one.labels[0][bodies[0]] == 1).all()), mode
        assert int((one.labels[0][bodies[1]] == 1).sum()) == 1, mode  # needs the second gate
        assert torch.equal(grown.core[2], blind.core[2]), mode  # a seen point is unchanged
        assert bool((grown.labels[0][seen_body] == 1).all()), mode
        assert int(grown.labels[0, 40, 5]) == 1, mode  # seen by no gate: the point, and
        assert not bool((grown.labels[0][36:45, 1:10] == 0).any()), mode  # nothing background
    with pytest.raises(ValueError, match='min_core'):
        generate_point_targets(img, None, points, mode='prior', fallback_gates=ladder)
    with pytest.raises(ValueError, match='fallback_gates'):
        generate_point_targets(img, None, points, mode='prior', min_core=4, fallback_gates=[(1,)])


def test_prediction_band_needs_its_evidence():
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    with pytest.raises(ValueError, match='band_evidence'):
        generate_point_targets(img, ideal_embedding([core]), points, band_source='prediction')
    with pytest.raises(ValueError, match='band_source'):
        generate_point_targets(img, ideal_embedding([core]), points, band_source='teacher')
    with pytest.raises(ValueError, match='band_tau'):
        generate_point_targets(
            img,
            ideal_embedding([core]),
            points,
            band_source='prediction',
            band_evidence=torch.zeros(1, 1, 64, 64),
            band_tau=(0.2, 0.5),
        )


# --------------------------------------------------------------------------------------------
# Fixed-step growth
# --------------------------------------------------------------------------------------------
def geodesic_component(cand, start):
    """BFS over 8-neighbours: {pixel: steps from start} within ``cand`` (start always in)."""
    S = cand.shape[0]
    dist = {start: 0}
    queue = deque([start])
    while queue:
        i, j = queue.popleft()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                q = (i + di, j + dj)
                if 0 <= q[0] < S and 0 <= q[1] < S and cand[q] and q not in dist:
                    dist[q] = dist[(i, j)] + 1
                    queue.append(q)
    return dist


def test_fixed_steps_equal_early_exit_and_reach_the_fixed_point():
    g = torch.Generator().manual_seed(5)
    R = 10
    S = 2 * R + 1
    cand = F.avg_pool2d(torch.rand(12, 1, S, S, generator=g), 3, 1, 1)[:, 0] > 0.45
    seed = torch.zeros(12, S, S, dtype=torch.bool)
    seed[:, R, R] = True
    for cap in (0, 1, 3, 7, R, 3 * R):
        fixed = propagate(seed, cand.unsqueeze(1), cap)
        early = propagate_until_stable(seed, cand.unsqueeze(1), cap)
        assert torch.equal(fixed, early)
    checked = 0
    for k in range(12):
        dist = geodesic_component(cand[k].numpy(), (R, R))
        radius = max(dist.values())
        component = torch.zeros(S, S, dtype=torch.bool)
        for i, j in dist:
            component[i, j] = True
        full = propagate(seed[k : k + 1], cand[k : k + 1].unsqueeze(1), radius)[0, 0]
        assert torch.equal(full, component)
        # ... and more steps change nothing (the fixed point is absorbing).
        assert torch.equal(
            propagate(seed[k : k + 1], cand[k : k + 1].unsqueeze(1), radius + 5)[0, 0], component
        )
        if radius > 1:
            short = propagate(seed[k : k + 1], cand[k : k + 1].unsqueeze(1), radius - 1)[0, 0]
            assert not torch.equal(short, component)
            checked += 1
    assert checked >= 3  # the data holds blobs that need several steps


def test_target_generation_reads_nothing_back_from_the_device(monkeypatch):
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    emb = ideal_embedding([core])
    expected = generate_point_targets(img, emb, points, adaptive=True)

    def forbidden(*args, **kwargs):
        raise AssertionError('device-to-host read in the target generation')

    for name in ('__bool__', 'item', 'tolist', '__int__', '__float__'):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    monkeypatch.setattr(torch, 'equal', forbidden)
    got = generate_point_targets(img, emb, points, adaptive=True, check_points=False)
    monkeypatch.undo()
    assert torch.equal(got.labels, expected.labels)


def test_targets_carry_no_gradient_v2():
    img, core, rim, points = rim_scene(core_r=3, rim_r=5)
    emb = ideal_embedding([core | rim]).requires_grad_(True)
    t = generate_point_targets(img.requires_grad_(True), emb, points, affinity_weight=0.5)
    for v in (t.labels, t.regions, t.ignore, t.support, t.gate, t.core, t.band):
        assert v.grad_fn is None and not v.requires_grad


# --------------------------------------------------------------------------------------------
# The first form behind rule='v1'
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    'name,kwargs',
    [
        ('affinity', dict(affinity_weight=1.0)),
        ('partial', dict(affinity_weight=0.6)),
        ('adaptive', dict(affinity_weight=1.0, adaptive=True, r_min=3)),
        ('prior', dict(mode='prior')),
    ],
)
def test_first_form_reproduces_its_saved_targets(name, kwargs):
    """Labels saved from the first form's own implementation on a fixed input."""
    data = np.load(FIXTURE)
    t = generate_point_targets(
        torch.from_numpy(data['image']),
        torch.from_numpy(data['embedding']),
        torch.from_numpy(data['points']),
        rule='v1',
        radius=8,
        kappa=1.0,
        beta=0.2,
        **kwargs,
    )
    expected = torch.from_numpy(data[f'labels_{name}'].astype(np.int64))
    assert bool((expected == 1).any())
    assert torch.equal(t.labels, expected)


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match='rule'):
        generate_point_targets(
            torch.zeros(1, 1, 8, 8), None, torch.tensor([[0, 3, 3]]), mode='prior', rule='v3'
        )
