"""Pseudo-mask scoring, the oracle-threshold ceiling, and the pseudo-label analysis
(mmgsacp.analysis.pseudo_labels, tools/analysis_tools/analyze_pseudo_labels.py)."""

import json

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmgsacp.analysis.pseudo_labels import pseudo_label_table, score_pseudo_labels
from mmgsacp.analysis.training_set import load_config
from mmgsacp.datasets.synthetic import make_synthetic_dataset
from mmgsacp.evaluation.pseudo_labels import (
    PseudoMaskScore,
    oracle_threshold_regions,
    relative_threshold_regions,
)
from mmgsacp.models.pseudo_labels import IGNORE_INDEX, gather_windows, ring_mask, support_mask
from mmgsacp.utils.config import synthetic_options, use_synthetic
from mmgsacp.utils.io import InputError

from ..utils import config_path, run_tool

TOOL = 'analysis_tools/analyze_pseudo_labels.py'


def graded_blob(radius=6):
    """One window: a bright core (value 10) inside a dimmer halo (value 4) on a 0 background."""
    img = torch.zeros(1, 1, 2 * radius + 1, 2 * radius + 1)
    img[..., radius - 3 : radius + 4, radius - 3 : radius + 4] = 4.0
    img[..., radius - 1 : radius + 2, radius - 1 : radius + 2] = 10.0
    points = torch.tensor([[0, radius, radius]])
    win, inside = gather_windows(img, points, radius)
    half = torch.full((1, 2), radius)
    support = support_mask(inside, half, radius)
    return win[:, 0], inside, support, ring_mask(support, half, radius, 2), radius


def test_threshold_ladder_is_nested_and_the_oracle_finds_the_true_extent():
    intensity, inside, support, ring, r = graded_blob()
    ladder = relative_threshold_regions(
        intensity, inside, support, ring, r, fractions=(0.1, 0.3, 0.5, 0.9)
    )
    areas = ladder.flatten(2).sum(2)[0].tolist()
    assert areas == [49, 49, 9, 9]  # halo+core below 4/10 of the contrast, core above
    for lo, hi in zip(ladder[0, :-1], ladder[0, 1:]):
        assert bool((hi & ~lo).sum() == 0)  # a higher fraction never adds a pixel
    core = intensity > 5
    halo = intensity > 1
    assert torch.equal(oracle_threshold_regions(ladder, core)[0], core[0])
    assert torch.equal(oracle_threshold_regions(ladder, halo)[0], halo[0])
    assert oracle_threshold_regions(ladder[:0], core[:0]).shape == (0, 13, 13)


def test_score_counts_and_ignore():
    score = PseudoMaskScore()
    truth = np.zeros((4, 4), bool)
    truth[1:3, 1:3] = True
    labels = np.zeros((4, 4), np.int64)
    labels[1:3, 1:4] = 1  # 4 hits, 2 extra pixels
    labels[0, 0] = IGNORE_INDEX
    score.add(labels, truth, 'A')
    labels = np.zeros((4, 4), np.int64)
    labels[1:3, 1:3] = IGNORE_INDEX  # the whole target ignored: counts nowhere
    score.add(labels, truth, 'B')
    s = score.summary()
    assert list(s) == ['A', 'B', 'all']
    assert s['A'] == dict(IoU=4 / 6, precision=4 / 6, recall=1.0, area_ratio=6 / 4)
    assert s['B']['IoU'] == 1.0 and np.isnan(s['B']['area_ratio'])
    assert s['all']['IoU'] == 4 / 6
    with pytest.raises(ValueError, match='differ in size'):
        score.add(labels[:3], truth)


@pytest.mark.slow
def test_oracle_bounds_the_prior_on_sirst3(sirst3_root):
    cfg = load_config(config_path('prior_only/prior-only_1k_sirst3.py'))
    result = score_pseudo_labels(cfg, data_root=str(sirst3_root), limit=40, kappas=[1, 2])
    rows = result['rows']
    assert result['images'] == 40
    priors = [f'prior kappa={k} beta=0.3' for k in (1, 2)]
    bands = [f'{p}{suffix}' for p in priors for suffix in (' + band', ' + band decided perfectly')]
    assert set(rows) == set(priors + bands + ['oracle threshold', 'pal initial'])
    # PAL's contour labels are precise but small (targets over 50 px get the point alone)
    assert rows['pal initial']['all']['precision'] > rows['pal initial']['all']['recall']
    assert 0.0 < result['pal_easy_share'] < 1.0 and 0.0 < result['pal_contour_share'] < 1.0
    assert set(rows['oracle threshold']) == {'NUAA-SIRST', 'NUDT-SIRST', 'IRSTD-1K', 'all'}
    for name in priors:
        assert rows['oracle threshold']['all']['IoU'] >= rows[name]['all']['IoU']
        # The outer band adds recall; decided by the truth it adds no false pixel.
        whole = rows[name + ' + band']['all']
        perfect = rows[name + ' + band decided perfectly']['all']
        assert whole['recall'] == perfect['recall'] >= rows[name]['all']['recall']
        assert perfect['IoU'] >= rows[name]['all']['IoU'] and perfect['IoU'] >= whole['IoU']
    assert 0.3 < rows['prior kappa=2 beta=0.3']['all']['IoU'] < 0.9
    assert '| oracle threshold |' in pseudo_label_table(result)
    assert '% of images easy' in pseudo_label_table(result)


def test_cli_with_a_checkpoint_scores_its_affinity(tmp_path):
    root = tmp_path / 'syn'
    make_synthetic_dataset(str(root), num_train=6, num_test=2, size=(64, 64), seed=1)
    config = config_path('gsacp/gsacp-base_1k_sirst3.py')
    init_default_scope('mmseg')  # built here before the tool sets it
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'pl.json'
    assert (
        run_tool(TOOL, config, ckpt, '--json', out, '--cfg-options', *synthetic_options(str(root)))
        == 0
    )
    rows = json.loads(out.read_text())['rows']
    assert {'affinity (checkpoint)', 'prediction > 0.5 (checkpoint)'} <= set(rows)
    assert 0.0 <= rows['affinity (checkpoint)']['all']['IoU'] <= 1.0

    # a looser gate, set through the config, can only add affinity targets
    loose = score_pseudo_labels(
        use_synthetic(
            load_config(
                config,
                {'model.decode_head.target_cfg.kappa': 1, 'model.decode_head.target_cfg.beta': 0.1},
            ),
            str(root),
        ),
        str(ckpt),
    )
    assert (loose['target_cfg']['kappa'], loose['target_cfg']['beta']) == (1, 0.1)
    assert 'prior kappa=1 beta=0.1' in loose['rows']
    assert (
        loose['rows']['affinity (checkpoint)']['all']['area_ratio']
        >= rows['affinity (checkpoint)']['all']['area_ratio']
    )


def test_bad_paths_are_named(tmp_path, capsys):
    assert run_tool(TOOL, tmp_path / 'nope.py') == 2
    assert 'no config file' in capsys.readouterr().err
    config = config_path('gsacp/gsacp-base_1k_sirst3.py')
    assert run_tool(TOOL, config, tmp_path / 'missing.pth') == 2
    assert 'no checkpoint file' in capsys.readouterr().err
    with pytest.raises(InputError, match='cannot read the training set'):
        score_pseudo_labels(load_config(config), data_root=str(tmp_path / 'empty'))


def test_points_the_prior_cannot_see_are_counted(tmp_path):
    root = tmp_path / 'syn'
    make_synthetic_dataset(str(root), num_train=4, num_test=1, size=(64, 64), seed=2)
    config = config_path('gsacp/gsacp-final_1k_sirst3.py')

    def score(min_core):
        opts = {} if min_core is None else {'model.decode_head.target_cfg.min_core': min_core}
        return score_pseudo_labels(use_synthetic(load_config(config, opts), str(root)))

    assert 'blind_points' not in score(None)
    everyone = score(10**6)  # no core blob is that large
    assert everyone['points'] > 0 and everyone['blind_points'] == everyone['points']
    assert f'{everyone["points"]} of {everyone["points"]} points' in pseudo_label_table(everyone)
    assert score(1)['blind_points'] == 0  # the core blob always holds its point
