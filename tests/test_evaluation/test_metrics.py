"""IRSTD metrics (mIoU, nIoU, Pd, Fa): hand-worked traps, a property test against a deliberately
plain reference implementation, distributed-style aggregation and the MMEngine metric."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from mmgsacp.datasets.parts import IRSTD_1K, NUAA_SIRST, NUDT_SIRST, part_of
from mmgsacp.evaluation.functional import (
    aggregate,
    image_stats,
    label_components,
    mask_from_label_map,
    mask_from_logits,
    match_components,
    stratum_names,
)
from mmgsacp.evaluation.metrics import IRSTDMetric

# ---------------------------------------------------------------------------------------------
# Reference implementation: explicit loops, exact rational centroids, no shared code.


def ref_label_flood(mask: np.ndarray) -> Tuple[np.ndarray, int]:
    """8-connected labelling by flood fill, numbered in raster order of the first pixel."""
    h, w = mask.shape
    lab = np.zeros((h, w), dtype=np.int64)
    n = 0
    for r in range(h):
        for c in range(w):
            if mask[r, c] and lab[r, c] == 0:
                n += 1
                lab[r, c] = n
                stack = [(r, c)]
                while stack:
                    y, x = stack.pop()
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            yy, xx = y + dy, x + dx
                            if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not lab[yy, xx]:
                                lab[yy, xx] = n
                                stack.append((yy, xx))
    return lab, n


def ref_label_scipy(mask: np.ndarray) -> Tuple[np.ndarray, int]:
    """scipy labelling, renumbered explicitly by each component's first raster pixel."""
    lab, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=int))
    firsts = []
    for k in range(1, n + 1):
        r, c = np.argwhere(lab == k)[0]
        firsts.append((int(r) * mask.shape[1] + int(c), k))
    out = np.zeros_like(lab)
    for new, (_, k) in enumerate(sorted(firsts), start=1):
        out[lab == k] = new
    return out, n


def ref_image(
    pred: np.ndarray,
    gt: np.ndarray,
    label: Callable[[np.ndarray], Tuple[np.ndarray, int]] = ref_label_flood,
    bins: Sequence[int] = (10, 50, 200),
) -> Dict:
    pred, gt = pred.astype(bool), gt.astype(bool)
    pl, pn = label(pred)
    gl, gn = label(gt)
    pcs = [np.argwhere(pl == k) for k in range(1, pn + 1)]
    gcs = [np.argwhere(gl == k) for k in range(1, gn + 1)]

    def centroid(coords):
        return (
            Fraction(int(coords[:, 0].sum()), len(coords)),
            Fraction(int(coords[:, 1].sum()), len(coords)),
        )

    available = list(range(pn))
    matched_gt, matched_pred = [], []
    for gi in range(gn):
        cy, cx = centroid(gcs[gi])
        for pi in available:
            py, px = centroid(pcs[pi])
            if (cy - py) ** 2 + (cx - px) ** 2 < 9:
                matched_gt.append(gi)
                matched_pred.append(pi)
                available.remove(pi)
                break
    n_bins = len(bins) + 1
    bin_t, bin_m, bin_iou = [0] * n_bins, [0] * n_bins, [0.0] * n_bins
    for gi, coords in enumerate(gcs):
        b = sum(1 for e in bins if len(coords) >= e)
        bin_t[b] += 1
        bin_m[b] += gi in matched_gt
        g = gl == gi + 1
        touching = set(int(v) for v in pl[g]) - {0}
        u = np.isin(pl, list(touching)) if touching else np.zeros_like(g)
        bin_iou[b] += (g & u).sum() / (g | u).sum()
    return dict(
        inter=int((pred & gt).sum()),
        union=int((pred | gt).sum()),
        false=int(pred.sum()) - sum(len(pcs[p]) for p in matched_pred),
        total=pred.size,
        targets=gn,
        matched=len(matched_gt),
        bin_t=bin_t,
        bin_m=bin_m,
        bin_iou=bin_iou,
    )


def ref_metrics(refs: List[Dict]) -> Dict[str, float]:
    inter = sum(r['inter'] for r in refs)
    union = sum(r['union'] for r in refs)
    targets = sum(r['targets'] for r in refs)
    ious = [r['inter'] / r['union'] if r['union'] else 0.0 for r in refs]
    return dict(
        mIoU=100 * inter / union if union else 0.0,
        nIoU=100 * sum(ious) / len(refs),
        Pd=100 * sum(r['matched'] for r in refs) / targets if targets else math.nan,
        Fa=1e6 * sum(r['false'] for r in refs) / sum(r['total'] for r in refs),
    )


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


def blank(h: int = 16, w: int = 16) -> np.ndarray:
    return np.zeros((h, w), dtype=bool)


# ---------------------------------------------------------------------------------------------
# Hand-worked traps


def test_false_blobs_with_the_matched_area_all_count():
    # Truth: one 2x2 blob. Prediction: that blob plus two more 2x2 blobs far away. Code that
    # collects unmatched *areas* and drops those equal to a matched area would report Fa = 0.
    gt = blank()
    gt[2:4, 2:4] = True
    pred = gt.copy()
    pred[10:12, 0:2] = True
    pred[0:2, 12:14] = True
    s = image_stats(pred, gt)
    assert (s['matched_components'], s['matched_pred_pixels'], s['false_pixels']) == (1, 4, 8)
    m = aggregate([s])
    assert m['Pd'] == 100.0
    assert m['Fa'] == pytest.approx(8 / 256 * 1e6)
    assert m['mIoU'] == pytest.approx(100 * 4 / 12)


def test_centroid_exactly_three_pixels_away_does_not_match():
    gt = blank()
    gt[5, 5] = True
    far, near = blank(), blank()
    far[5, 8] = True
    near[5, 7] = True
    assert image_stats(far, gt)['matched_components'] == 0
    assert image_stats(far, gt)['false_pixels'] == 1
    assert image_stats(near, gt)['matched_components'] == 1
    diag = blank()
    diag[7, 7] = True  # sqrt(8) < 3
    assert image_stats(diag, gt)['matched_components'] == 1


def test_exact_tie_with_fractional_centroid_is_decided_exactly():
    # Truth pixel at (0, 14); predicted blob of 5 pixels with centroid (1.8, 16.4): distance is
    # exactly 3 (1.8^2 + 2.4^2 = 9), although float64 evaluates it to 2.9999999999999987.
    gt = blank(8, 24)
    gt[0, 14] = True
    pred = blank(8, 24)
    pts = np.array([(1, 16), (2, 15), (2, 16), (2, 17), (2, 18)])
    pred[pts[:, 0], pts[:, 1]] = True
    assert np.linalg.norm(pts.mean(0) - np.array([0.0, 14.0])) < 3  # what float code sees
    s = image_stats(pred, gt)
    assert s['matched_components'] == 0 and s['false_pixels'] == 5


def test_one_prediction_cannot_match_two_targets():
    gt = blank()
    gt[5, 5] = gt[5, 7] = True  # two components (column 6 is empty)
    pred = blank()
    pred[5, 6] = True  # 1 px from both
    s = image_stats(pred, gt)
    assert (s['gt_components'], s['matched_components'], s['false_pixels']) == (2, 1, 0)
    assert aggregate([s])['Pd'] == 50.0


def test_first_remaining_prediction_wins_not_the_nearest():
    gt = blank()
    gt[5, 5] = True
    gt[5, 9] = True
    pred = blank()
    pred[3, 5] = True  # 2 px from the first truth, first in raster order
    pred[5, 6] = True  # 1 px from the first truth, 3 px from the second (no match)
    gc, pc = label_components(gt), label_components(pred)
    assert match_components(gc, pc).tolist() == [0, -1]
    s = image_stats(pred, gt)
    assert (s['matched_components'], s['false_pixels']) == (1, 1)


def test_empty_prediction():
    gt = blank()
    gt[3:5, 3:5] = True
    m = aggregate([image_stats(blank(), gt)])
    assert (m['mIoU'], m['nIoU'], m['Pd'], m['Fa']) == (0.0, 0.0, 0.0, 0.0)
    assert m['targets'] == 1


def test_empty_truth():
    pred = blank()
    pred[3:5, 3:6] = True
    m = aggregate([image_stats(pred, blank())])
    assert m['targets'] == 0 and math.isnan(m['Pd'])
    assert m['Fa'] == pytest.approx(6 / 256 * 1e6)
    assert (m['mIoU'], m['nIoU']) == (0.0, 0.0)


def test_image_with_no_union_counts_zero_in_niou():
    gt = blank()
    gt[3:5, 3:5] = True
    m = aggregate([image_stats(gt, gt), image_stats(blank(), blank())])
    assert m['mIoU'] == 100.0
    assert m['nIoU'] == 50.0
    assert m['Pd'] == 100.0 and m['Fa'] == 0.0


def test_perfect_prediction():
    rng = np.random.default_rng(0)
    gts = [rng.random((20, 30)) < 0.05 for _ in range(5)]
    m = aggregate([image_stats(g, g) for g in gts])
    assert (m['mIoU'], m['nIoU'], m['Pd'], m['Fa']) == (100.0, 100.0, 100.0, 0.0)


def test_miou_is_total_over_total_and_fa_uses_all_pixels():
    a_gt, a_pred = blank(4, 4), blank(4, 4)
    a_gt[0, 0] = a_pred[0, 0] = True  # IoU 1
    b_gt, b_pred = blank(8, 8), blank(8, 8)
    b_gt[2:4, 2:4] = True
    b_pred[2, 2] = True  # IoU 1/4, centroid 0.707 px off: matched, no false pixels
    b_pred[7, 7] = True  # a false alarm
    m = aggregate([image_stats(a_pred, a_gt), image_stats(b_pred, b_gt)])
    assert m['mIoU'] == pytest.approx(100 * 2 / 6)
    assert m['nIoU'] == pytest.approx(100 * (1 + 1 / 5) / 2)
    assert m['Fa'] == pytest.approx(1e6 * 1 / (16 + 64))


def test_labels_follow_raster_order():
    # cv2 numbers the component holding (1, 0) first; the field's order starts with (0, 3).
    m = blank(2, 6)
    m[1, 0] = m[0, 3] = True
    c = label_components(m)
    assert c.labels[0, 3] == 1 and c.labels[1, 0] == 2
    assert c.centroids.tolist() == [[0.0, 3.0], [1.0, 0.0]]


def test_strata_bins_and_component_iou():
    assert stratum_names((10, 50, 200)) == ['area<10', 'area10-50', 'area50-200', 'area>=200']
    gt = blank(40, 80)
    gt[0:3, 0:3] = True  # area 9 -> area<10, missed
    gt[10:12, 0:5] = True  # area 10 -> area10-50, found exactly
    gt[20:27, 0:7] = True  # area 49 -> area10-50, found by a larger blob
    gt[0:10, 20:25] = True  # area 50 -> area50-200
    gt[20:40, 40:50] = True  # area 200 -> area>=200
    pred = blank(40, 80)
    pred[10:12, 0:5] = True
    pred[20:28, 0:7] = True  # 56 px covering the 49-px target: cIoU 49/56
    pred[0:10, 20:25] = True
    pred[20:40, 40:50] = True
    s = image_stats(pred, gt)
    assert s['bin_targets'] == [1, 2, 1, 1]
    assert s['bin_matched'] == [0, 2, 1, 1]
    assert s['bin_ciou_sum'] == pytest.approx([0.0, 1 + 49 / 56, 1.0, 1.0])
    m = aggregate([s])
    assert m['Pd_area<10'] == 0.0 and m['Pd_area10-50'] == 100.0
    assert m['cIoU_area10-50'] == pytest.approx(100 * (1 + 49 / 56) / 2)


def test_component_iou_uses_union_of_touching_predictions():
    gt = blank()
    gt[4:8, 4:8] = True  # 16 px
    pred = blank()
    pred[4:6, 4:8] = True  # 8 px inside
    pred[7:10, 7:8] = True  # 3 px, 1 of them inside
    pred[0, 15] = True  # does not touch
    s = image_stats(pred, gt)
    assert s['bin_ciou_sum'][1] == pytest.approx(9 / (16 + 11 - 9))


def test_binarisation_rules():
    logits = np.array([[-1.0, 0.0, 1e-9, 3.0]], dtype=np.float32)
    assert mask_from_logits(logits).tolist() == [[False, False, True, True]]
    two = np.stack([np.zeros((1, 3)), np.array([[-1.0, 0.0, 1.0]])])
    assert mask_from_logits(two).tolist() == [[False, False, True]]
    assert mask_from_logits(logits, threshold=0.9).tolist() == [[False, False, False, True]]
    assert mask_from_label_map(np.array([[0, 1]])).tolist() == [[False, True]]
    assert mask_from_label_map(np.array([[0, 64, 128, 255, 1]])).tolist() == [
        [False, False, True, True, False]
    ]
    with pytest.raises(ValueError, match='255'):
        mask_from_label_map(np.array([[0, 1, 255]]))
    with pytest.raises(ValueError, match='binarise'):
        image_stats(np.array([[0, 255]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match='binarise'):
        image_stats(np.array([[0, 1]]), np.array([[0.0, 0.7]]))


def test_part_of():
    assert part_of('Misc_12') == NUAA_SIRST
    assert part_of('000123') == NUDT_SIRST
    assert part_of('XDU42') == IRSTD_1K
    assert part_of('12345') is None and part_of('0001234') is None and part_of('img') is None


# ---------------------------------------------------------------------------------------------
# Property test against the reference


@st.composite
def pred_gt_pairs(draw):
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 14))
    gt = draw(hnp.arrays(bool, (h, w)))
    noise = draw(hnp.arrays(bool, (h, w)))
    mode = draw(st.sampled_from(['xor', 'or', 'and_not', 'shift', 'independent']))
    if mode == 'xor':
        pred = gt ^ noise
    elif mode == 'or':
        pred = gt | noise
    elif mode == 'and_not':
        pred = gt & ~noise
    elif mode == 'shift':
        pred = np.roll(gt, (draw(st.integers(-3, 3)), draw(st.integers(-3, 3))), axis=(0, 1))
    else:
        pred = noise
    return pred, gt


@settings(max_examples=200, deadline=None, derandomize=True)
@given(pred_gt_pairs())
def test_image_stats_match_reference(pair):
    pred, gt = pair
    for mask in (pred, gt):
        lab, n = ref_label_flood(mask)
        assert np.array_equal(label_components(mask).labels, lab)
        assert np.array_equal(ref_label_scipy(mask)[0], lab)
    s = image_stats(pred, gt)
    r = ref_image(pred, gt)
    assert (s['intersection'], s['union'], s['false_pixels'], s['total_pixels']) == (
        r['inter'],
        r['union'],
        r['false'],
        r['total'],
    )
    assert (s['gt_components'], s['matched_components']) == (r['targets'], r['matched'])
    assert s['bin_targets'] == r['bin_t'] and s['bin_matched'] == r['bin_m']
    assert s['bin_ciou_sum'] == pytest.approx(r['bin_iou'])


def test_greedy_matching_matches_reference_on_dense_scenes():
    # Many small blobs close together: the order of the greedy rule matters here.
    rng = np.random.default_rng(1)
    for _ in range(30):
        gt = rng.random((24, 24)) < 0.12
        pred = np.roll(gt, tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
        pred ^= rng.random((24, 24)) < 0.08
        s, r = image_stats(pred, gt), ref_image(pred, gt)
        assert (s['matched_components'], s['false_pixels']) == (r['matched'], r['false'])


# ---------------------------------------------------------------------------------------------
# Aggregation across ranks


def _random_stats(n: int, seed: int) -> List[Dict]:
    rng = np.random.default_rng(seed)
    parts = [NUAA_SIRST, NUDT_SIRST, IRSTD_1K, None]
    out = []
    for k in range(n):
        gt = rng.random((rng.integers(5, 30), rng.integers(5, 30))) < 0.1
        pred = gt ^ (rng.random(gt.shape) < 0.05)
        s = image_stats(pred, gt)
        s['part'] = parts[k % 4]
        out.append(s)
    return out


def test_aggregation_is_independent_of_split_and_order():
    stats = _random_stats(40, seed=2)
    whole = aggregate(stats)
    # what collect_results does: rank 0's then rank 1's results, interleaved sampling
    gathered = stats[0::2] + stats[1::2]
    shuffled = stats[:]
    random.Random(3).shuffle(shuffled)
    for other in (gathered, shuffled):
        got = aggregate(other)
        assert got.keys() == whole.keys()
        # bit-identical: integer sums and fsum do not depend on the order
        assert all(
            got[k] == whole[k] or (math.isnan(got[k]) and math.isnan(whole[k])) for k in whole
        )


def test_aggregate_matches_reference_formulas():
    rng = np.random.default_rng(4)
    pairs = []
    for _ in range(12):
        gt = rng.random((15, 17)) < 0.1
        pairs.append((gt ^ (rng.random(gt.shape) < 0.06), gt))
    got = aggregate(image_stats(p, g) for p, g in pairs)
    want = ref_metrics([ref_image(p, g) for p, g in pairs])
    for k in ('mIoU', 'nIoU', 'Pd', 'Fa'):
        assert same(got[k], want[k]), k


def test_aggregate_rejects_mixed_bins():
    a = image_stats(blank(), blank(), size_bins=(10,))
    b = image_stats(blank(), blank())
    with pytest.raises(ValueError):
        aggregate([a, b])


# ---------------------------------------------------------------------------------------------
# The MMEngine metric


def _sample(pred: np.ndarray, gt: np.ndarray, path: str, part=None, logits=None) -> Dict:
    s = dict(
        img_path=path,
        ori_shape=gt.shape,
        pred_sem_seg=dict(data=torch.from_numpy(pred.astype(np.int64))[None]),
        gt_sem_seg=dict(data=torch.from_numpy(gt.astype(np.int64))[None]),
    )
    if part is not None:
        s['part'] = part
    if logits is not None:
        s['seg_logits'] = dict(data=torch.from_numpy(logits)[None])
    return s


def _fake_set(seed: int = 5):
    rng = np.random.default_rng(seed)
    names = ['Misc_1', 'Misc_7', '000012', '000500', 'XDU3', 'XDU77', 'other']
    preds, gts, paths = [], [], []
    for name in names:
        gt = rng.random((rng.integers(10, 25), rng.integers(10, 25))) < 0.1
        preds.append(gt ^ (rng.random(gt.shape) < 0.05))
        gts.append(gt)
        paths.append(f'/data/images/{name}.png')
    return preds, gts, paths


def test_metric_process_and_compute_with_parts():
    preds, gts, paths = _fake_set()
    metric = IRSTDMetric()
    # parts from metainfo for the first three, from file names for the rest
    given_parts = [NUAA_SIRST, NUAA_SIRST, NUDT_SIRST, None, None, None, None]
    samples = [_sample(p, g, f, part) for p, g, f, part in zip(preds, gts, paths, given_parts)]
    metric.process({}, samples[:4])
    metric.process({}, samples[4:])
    assert len(metric.results) == 7
    assert [r['part'] for r in metric.results] == [
        NUAA_SIRST,
        NUAA_SIRST,
        NUDT_SIRST,
        NUDT_SIRST,
        IRSTD_1K,
        IRSTD_1K,
        None,
    ]
    assert metric.results[0]['stem'] == 'Misc_1'
    assert all(
        isinstance(v, (int, float, str, tuple, list, type(None)))
        for r in metric.results
        for v in r.values()
    )
    out = metric.compute_metrics(metric.results)

    want = ref_metrics([ref_image(p, g) for p, g in zip(preds, gts)])
    for k in ('mIoU', 'nIoU', 'Pd', 'Fa'):
        assert same(out[k], want[k]), k
    nudt = ref_metrics([ref_image(p, g) for p, g in zip(preds[2:4], gts[2:4])])
    for k in ('mIoU', 'nIoU', 'Pd', 'Fa'):
        assert same(out[f'{NUDT_SIRST}/{k}'], nudt[k]), k
    parts_keys = {k.split('/')[0] for k in out if '/' in k}
    assert parts_keys == {NUAA_SIRST, NUDT_SIRST, IRSTD_1K}
    for name in stratum_names((10, 50, 200)):
        assert f'Pd_{name}' in out and f'cIoU_{name}' in out
    assert metric.evaluate_arrays(
        preds, gts, [part_of(f.split('/')[-1][:-4]) for f in paths]
    ) == pytest.approx(out, nan_ok=True)


def test_metric_split_across_ranks_equals_single_rank():
    preds, gts, paths = _fake_set(seed=6)
    samples = [_sample(p, g, f) for p, g, f in zip(preds, gts, paths)]
    single, rank0, rank1 = IRSTDMetric(), IRSTDMetric(), IRSTDMetric()
    single.process({}, samples)
    rank0.process({}, samples[0::2])
    rank1.process({}, samples[1::2])
    a = single.compute_metrics(single.results)
    b = single.compute_metrics(rank0.results + rank1.results)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def test_metric_uses_logits_when_asked():
    gt = blank(8, 8)
    gt[2:4, 2:4] = True
    logits = np.full((8, 8), -5.0, dtype=np.float32)
    logits[2:4, 2:4] = 2.0
    logits[6, 6] = 1e-3  # above 0.5 probability: a false alarm
    wrong_labels = np.zeros((8, 8), dtype=bool)  # ignored when use_logits
    metric = IRSTDMetric(use_logits=True)
    metric.process({}, [_sample(wrong_labels, gt, 'x/000001.png', logits=logits)])
    out = metric.compute_metrics(metric.results)
    assert out['Pd'] == 100.0 and out['Fa'] == pytest.approx(1e6 / 64)
    plain = IRSTDMetric()
    plain.process({}, [_sample(wrong_labels, gt, 'x/000001.png', logits=logits)])
    assert plain.compute_metrics(plain.results)['Pd'] == 0.0


def test_metric_accepts_seg_data_samples_and_checks_sizes():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    gt = blank(6, 6)
    gt[1, 1] = True
    s = SegDataSample(metainfo=dict(img_path='a/XDU5.png'))
    s.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
    s.pred_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
    metric = IRSTDMetric()
    metric.process({}, [s])
    assert metric.results[0]['part'] == IRSTD_1K
    out = metric.compute_metrics(metric.results)
    assert (out['mIoU'], out['Pd'], out['Fa'], out['IRSTD-1K/mIoU']) == (100.0, 100.0, 0.0, 100.0)
    with pytest.raises(ValueError, match='a/bad.png'):
        metric.process({}, [_sample(blank(6, 7), gt, 'a/bad.png')])


def test_metric_is_registered_with_plain_keys():
    from mmseg.registry import METRICS

    metric = METRICS.build(dict(type='IRSTDMetric', size_bins=(5, 20)))
    assert isinstance(metric, IRSTDMetric) and metric.prefix is None
    gt = blank()
    gt[2, 2] = True
    metric.process({}, [_sample(gt, gt, 'p/img.png')])
    out = metric.evaluate(1)
    assert {'mIoU', 'nIoU', 'Pd', 'Fa', 'Pd_area<5', 'Pd_area5-20', 'Pd_area>=20'} <= out.keys()
    assert not any('/' in k for k in out)  # 'img' belongs to no part
