"""Target pixels that crops cut off from their point (mmgsacp.analysis.crops,
tools/analysis_tools/analyze_crops.py)."""

import numpy as np
import pytest

from mmgsacp.analysis.crops import CropCount, count_crops, crop_table, unpointed_targets
from mmgsacp.analysis.training_set import load_config
from mmgsacp.utils.io import InputError

from ..utils import config_path, run_tool


def test_unpointed_targets_by_hand():
    mask = np.zeros((10, 12), np.uint8)
    mask[1:3, 1:3] = 1  # 4 px, its point one pixel off (diagonal): counts as pointed
    mask[6:9, 8:11] = 1  # 9 px, no point
    mask[0, 11] = 1  # 1 px, the point on it
    mask[5, 0:2] = 255  # padding is not target
    points = np.array([[3, 3], [11, 0]], np.float32)
    assert unpointed_targets(mask, points) == (3, 1, 14, 9)
    # Two pixels off is too far; no target at all counts nothing.
    assert unpointed_targets(mask, np.array([[4, 4]], np.float32))[1] == 3
    assert unpointed_targets(np.zeros((4, 4), np.uint8), points) == (0, 0, 0, 0)


@pytest.mark.slow
def test_margin_removes_cut_targets_on_sirst3(sirst3_root):
    cfg = load_config(config_path('prior_only/prior-only_1k_sirst3.py'))
    # 2000 crops: the share of crops holding a target (0.9 + 0.1 x chance) clears 0.9 by more than
    # its sampling spread (at 400 it sits at 0.900 on this seed).
    rows, images = count_crops(cfg, crops=2000, point_margins=[0, 8], data_root=str(sirst3_root))
    whole, plain, margin = (
        rows['whole images'],
        rows['crop, point_margin=0'],
        rows['crop, point_margin=8'],
    )
    # SIRST3's labels give every component a point; crops cut some off, the margin fewer.
    assert whole['unpointed_components'] == 0 and whole['components'] > 0
    assert plain['crops'] == margin['crops'] == 2000
    assert plain['unpointed_pixels'] > margin['unpointed_pixels']
    assert 'point_margin=8' in crop_table(rows, 2000, images)
    # Nine crops in ten are centred on a target; with none centred, only those that land on
    # one by chance hold a target.
    assert plain['target_crop_share'] >= 0.9
    random_only = load_config(
        config_path('prior_only/prior-only_1k_sirst3.py'),
        ['train_dataloader.dataset.pipeline.2.target_prob=0.0'],
    )
    rows, _ = count_crops(random_only, crops=400, data_root=str(sirst3_root))
    assert rows['crop, point_margin=0']['target_crop_share'] < 0.5


def test_crop_count_shares_by_hand():
    count = CropCount()
    empty = np.zeros((8, 8), np.uint8)
    with_target = empty.copy()
    with_target[2:4, 2:4] = 1
    count.add(empty, np.zeros((0, 2), np.float32))
    count.add(with_target, np.array([[2, 2]], np.float32))
    count.add(with_target, np.zeros((0, 2), np.float32))  # a target cut off from its point
    count.add(np.full((8, 8), 255, np.uint8), np.zeros((0, 2), np.float32))  # padding only
    summary = count.summary()
    assert summary['crops'] == 4 and summary['crops_with_target'] == 2
    assert summary['target_crop_share'] == 0.5 and summary['crop_share'] == 0.25


def test_bad_input_is_named(tmp_path, capsys):
    with pytest.raises(InputError, match='config file not found'):
        load_config(str(tmp_path / 'nope.py'))
    config = config_path('prior_only/prior-only_1k_sirst3.py')
    cfg = load_config(config)
    with pytest.raises(InputError, match='--crops'):
        count_crops(cfg, crops=0)
    with pytest.raises(InputError, match='cannot read the training set'):
        count_crops(cfg, data_root=str(tmp_path / 'empty'))
    no_crop = tmp_path / 'no_crop.py'
    no_crop.write_text(
        f'_base_ = {config!r}\n'
        'train_dataloader = dict(\n'
        "    dataset=dict(pipeline=[dict(type='LoadIRImageFromFile')]))\n"
    )
    with pytest.raises(InputError, match='no TargetAwareRandomCrop'):
        count_crops(load_config(str(no_crop)))
    # The tool reports them with exit status 2.
    assert run_tool('analysis_tools/analyze_crops.py', tmp_path / 'nope.py') == 2
    assert 'error: config file not found' in capsys.readouterr().err
