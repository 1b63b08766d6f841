"""Miss kinds under the field's matching rule (mmgsacp.evaluation.misses) and the miss analysis
with the prior's recall (mmgsacp.analysis.misses, tools/analysis_tools/analyze_misses.py)."""

import json

import cv2
import numpy as np
import pytest

from mmgsacp.analysis.misses import analyze_misses, prior_recall
from mmgsacp.evaluation.functional import image_stats, label_components
from mmgsacp.evaluation.misses import OUTCOMES, target_outcomes
from mmgsacp.utils.io import InputError

from ..utils import config_path, run_tool


def square(mask, y, x, h, w):
    mask[y : y + h, x : x + w] = True


def scene():
    """Five 6x6 targets on a 64x64 image, each met by a different prediction."""
    gt = np.zeros((64, 64), bool)
    pred = np.zeros((64, 64), bool)
    for y, x in ((2, 2), (2, 30), (30, 2), (30, 30), (50, 50)):
        square(gt, y, x, 6, 6)
    square(pred, 2, 2, 6, 6)  # hit: the same square
    # (2, 30): nothing predicted -> unseen
    square(pred, 30, 2, 6, 1)  # two thin columns at the target's sides, each centroid
    square(pred, 30, 7, 6, 1)  # 2.5 px from the target's
    square(pred, 30, 30, 1, 2)  # partial: 2 px at a corner, centroid (30, 30.5): 3.2 px off
    square(pred, 50, 50, 6, 6)  # offset: covers all of it but runs on to the right
    square(pred, 50, 56, 6, 8)
    return pred, gt


def test_every_kind_is_named_and_hits_are_pds():
    pred, gt = scene()
    t = target_outcomes(pred, gt)
    kinds = [OUTCOMES[i] for i in t.outcomes]
    # the two 1-px columns at x=2 and x=7 have centroids 2.5 px from the target's (x=4.5):
    # within 3 px, so the first one matches: a split prediction can still be a detection
    assert kinds == ['hit', 'unseen', 'hit', 'partial', 'offset']
    assert t.areas.tolist() == [36] * 5
    np.testing.assert_allclose(t.coverage, [1.0, 0.0, 12 / 36, 2 / 36, 1.0])
    stats = image_stats(pred, gt)
    assert stats['matched_components'] == kinds.count('hit')


def test_split_when_no_piece_is_close_enough():
    gt = np.zeros((32, 32), bool)
    square(gt, 4, 4, 10, 10)  # centroid (8.5, 8.5)
    pred = np.zeros((32, 32), bool)
    square(pred, 4, 4, 1, 10)  # top row: centroid 4.5 px above
    square(pred, 13, 4, 1, 10)  # bottom row: 4.5 px below
    t = target_outcomes(pred, gt)
    assert [OUTCOMES[i] for i in t.outcomes] == ['split']
    assert t.coverage.tolist() == [0.2]


def test_shapes_must_agree():
    with pytest.raises(ValueError, match='differ in size'):
        target_outcomes(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_prior_recall_sees_a_bright_target_and_not_a_dim_one():
    rng = np.random.default_rng(0)
    img = rng.normal(100, 5, (48, 48))
    gt = np.zeros((48, 48), bool)
    square(gt, 8, 8, 5, 5)
    square(gt, 30, 30, 5, 5)
    img[8:13, 8:13] += 100  # the second target is no brighter than its background
    img = img.clip(0, 255).astype(np.uint8)
    comps = label_components(gt)
    points = np.array([[10.0, 10.0], [32.0, 32.0]])
    recall = prior_recall(img, points, comps.labels, comps.num, dict(radius=12))
    assert recall[0] == 1.0
    assert recall[1] < 0.1  # only the point itself


def write_root(root, pred, gt, img, points):
    for sub in ('masks', 'images', 'masks_centroid', 'probs'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'masks' / 'Misc_1.png'), gt.astype(np.uint8) * 255)
    cv2.imwrite(str(root / 'images' / 'Misc_1.png'), img)
    pm = np.zeros(gt.shape, np.uint8)
    for x, y in points:
        pm[y, x] = 255
    cv2.imwrite(str(root / 'masks_centroid' / 'Misc_1.png'), pm)
    cv2.imwrite(str(root / 'probs' / 'Misc_1.png'), (pred * 65535).astype(np.uint16))


def test_analysis_counts_by_part_and_stratum(tmp_path, capsys):
    pred, gt = scene()
    img = np.full(gt.shape, 10, np.uint8)
    img[gt] = 200
    points = [(4, 4), (32, 4), (4, 32), (32, 32), (52, 52)]
    write_root(tmp_path, pred, gt, img, points)
    result = analyze_misses(tmp_path / 'probs', tmp_path, progress=False)
    rows = {(r['part'], r['stratum']): r for r in result['rows']}
    row = rows[('all', 'area10-50')]
    assert row['targets'] == 5 and row['hit'] == 2
    assert (row['unseen'], row['split'], row['partial'], row['offset']) == (1, 0, 1, 1)
    assert rows[('NUAA-SIRST', 'area10-50')]['targets'] == 5
    assert 'prior_recall_hit' not in row
    out = tmp_path / 'misses.json'
    code = run_tool(
        'analysis_tools/analyze_misses.py',
        '--prob-dir',
        tmp_path / 'probs',
        '--data-root',
        tmp_path,
        '--prior-config',
        config_path('prior_only/prior-only_1k_sirst3.py'),
        '--json',
        out,
        '--no-progress',
    )
    assert code == 0
    saved = json.loads(out.read_text())
    top = saved['rows'][0]
    # every target is bright on a flat background: the prior sees all of them, missed or not
    assert top['prior_recall_hit'] == 1.0 and top['prior_recall_miss'] == 1.0
    assert top['prior_blind_miss'] == 0.0
    assert '| all | area10-50 | 5 | 40.00 | 1 | 0 | 1 | 1 |' in capsys.readouterr().out


def test_missing_maps_are_named(tmp_path):
    pred, gt = scene()
    write_root(tmp_path, pred, gt, np.zeros(gt.shape, np.uint8), [])
    (tmp_path / 'probs' / 'Misc_1.png').unlink()
    with pytest.raises(InputError, match='Misc_1'):
        analyze_misses(tmp_path / 'probs', tmp_path, progress=False)
