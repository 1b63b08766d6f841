"""tools/analyze_crops.py: target pixels that crops cut off from their point."""
import json
import os.path as osp
import sys

import numpy as np
import pytest

from .utils import REPO_ROOT, config_path

sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
import analyze_crops  # noqa: E402


def test_unpointed_targets_by_hand():
    mask = np.zeros((10, 12), np.uint8)
    mask[1:3, 1:3] = 1      # 4 px, its point one pixel off (diagonal): counts as pointed
    mask[6:9, 8:11] = 1     # 9 px, no point
    mask[0, 11] = 1         # 1 px, the point on it
    mask[5, 0:2] = 255      # padding is not target
    points = np.array([[3, 3], [11, 0]], np.float32)
    assert analyze_crops.unpointed_targets(mask, points) == (3, 1, 14, 9)
    # Two pixels off is too far; no target at all counts nothing.
    assert analyze_crops.unpointed_targets(mask, np.array([[4, 4]], np.float32))[1] == 3
    assert analyze_crops.unpointed_targets(np.zeros((4, 4), np.uint8), points) == (0, 0, 0, 0)


@pytest.mark.slow
def test_cli_on_sirst3_margin_removes_cut_targets(sirst3_root, tmp_path, capsys):
    out = tmp_path / 'crops.json'
    rc = analyze_crops.main([
        config_path('baselines/cpu/prior_only_sirst3_cpu.py'), '--data-root', str(sirst3_root),
        '--crops', '400', '--point-margin', '0', '8', '--json', str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())['rows']
    whole, plain, margin = (rows['whole images'], rows['crop, point_margin=0'],
                            rows['crop, point_margin=8'])
    # SIRST3's labels give every component a point; crops cut some off, the margin fewer.
    assert whole['unpointed_components'] == 0 and whole['components'] > 0
    assert plain['crops'] == margin['crops'] == 400
    assert plain['unpointed_pixels'] > margin['unpointed_pixels']
    assert 'point_margin=8' in capsys.readouterr().out


def test_cli_bad_input(tmp_path, capsys):
    assert analyze_crops.main([str(tmp_path / 'nope.py')]) == 2
    assert 'no config file' in capsys.readouterr().err
    config = config_path('synthetic/prior_only_synthetic.py')
    assert analyze_crops.main([config, '--crops', '0']) == 2
    assert '--crops' in capsys.readouterr().err
    assert analyze_crops.main([config, '--data-root', str(tmp_path / 'empty')]) == 2
    assert 'cannot read the training set' in capsys.readouterr().err
    no_crop = tmp_path / 'no_crop.py'
    no_crop.write_text(f"_base_ = {config!r}\n"
                       "train_dataloader = dict(\n"
                       "    dataset=dict(pipeline=[dict(type='LoadIRImageFromFile')]))\n")
    assert analyze_crops.main([str(no_crop)]) == 2
    assert 'no TargetAwareRandomCrop' in capsys.readouterr().err
