"""mmgsacp.datasets.check and tools/analysis_tools/check_data.py: every injected fault of a
SIRST3-layout set is reported naming its file, a clean set passes, and so does the real
SIRST3 test split."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmgsacp.datasets.check import check_dataset

from ..utils import run_python_script, synthetic_set_fixture

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'analysis_tools' / 'check_data.py'
TRAIN, TEST = 'img_idx/train_synthetic.txt', 'img_idx/test_synthetic.txt'
POINTS = {'centroid': 'masks_centroid', 'coarse': 'masks_coarse'}


def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return run_python_script(TOOL, *args, cwd=cwd, timeout=300)


clean = synthetic_set_fixture(
    'check', num_train=10, num_test=4, size=(40, 48), seed=3, empty_prob=0.2
)


@pytest.fixture
def damaged(clean, tmp_path):
    """A copy of the clean set with one fault per file, and the file each must name."""
    root = Path(shutil.copytree(clean, tmp_path / 'set'))
    train = (root / TRAIN).read_text().split()
    with_target = [s for s in train if cv2.imread(str(root / 'masks' / f'{s}.png'), 0).any()]
    a, b, c, d, e = with_target[:5]
    faults = {}
    # a truncated image
    img = root / 'images' / f'{a}.png'
    img.write_bytes(img.read_bytes()[:-40])
    faults['undecodable'] = img
    # a missing mask
    (root / 'masks' / f'{b}.png').unlink()
    faults['missing'] = root / 'masks' / f'{b}.png'
    # a mask of another size than its image
    mask = cv2.imread(str(root / 'masks' / f'{c}.png'), 0)
    cv2.imwrite(str(root / 'masks' / f'{c}.png'), mask[:, :-3])
    faults['size-mismatch'] = root / 'masks' / f'{c}.png'
    # a coarse point map in a larger frame, with its point outside the image
    big = np.zeros((40, 60), np.uint8)
    big[10, 55] = 255
    cv2.imwrite(str(root / 'masks_coarse' / f'{d}.png'), big)
    faults['point-outside'] = root / 'masks_coarse' / f'{d}.png'
    # a 0/1 mask, which the > 127 rule would read as empty
    mask = cv2.imread(str(root / 'masks' / f'{e}.png'), 0)
    cv2.imwrite(str(root / 'masks' / f'{e}.png'), (mask > 127).astype(np.uint8))
    faults['mask-values'] = root / 'masks' / f'{e}.png'
    # a duplicate stem and an empty split
    test = (root / TEST).read_text().split()
    (root / TEST).write_text('\n'.join(test + [test[0], train[0]]) + '\n')
    (root / 'img_idx' / 'test_empty.txt').write_text('\n')
    faults['duplicate-stem'] = faults['train-test-overlap'] = root / TEST
    faults['empty-split'] = root / 'img_idx' / 'test_empty.txt'
    return root, faults


def test_clean_set_passes(clean):
    report = check_dataset(str(clean), point_dirs=POINTS, workers=2)
    assert report.ok, report.lines()
    assert [(Path(s.path).name, s.images, s.problems) for s in report.splits] == [
        ('test_synthetic.txt', 4, 0),
        ('train_synthetic.txt', 10, 0),
    ]
    assert report.result.samples == 14 and not report.result.notes


def test_every_fault_is_reported_naming_its_file(damaged):
    root, faults = damaged
    report = check_dataset(str(root), point_dirs=POINTS)
    assert not report.ok
    found = {(p.kind, Path(p.path)) for p in report.result.problems}
    for kind, path in faults.items():
        assert (kind, path) in found, (kind, path, report.lines())
    # one problem per fault, nothing else (the point map is also noted as rescaled)
    assert len(report.result.problems) == len(faults)
    assert [n.kind for n in report.result.notes] == ['point-map-rescaled']
    assert (
        next(p for p in report.result.problems if p.kind == 'mask-values').detail.count(
            'only 0 and 1'
        )
        == 1
    )
    train = next(s for s in report.splits if s.path.endswith('train_synthetic.txt'))
    assert train.problems == 5


@pytest.mark.slow
def test_cli_exit_status_and_lines(damaged, clean, tmp_path):
    root, faults = damaged
    res = run_cli(root, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    for kind, path in faults.items():
        assert any(line.startswith(f'{kind}: {path}:') for line in lines), (kind, res.stdout)
    assert '--mask-scale' in res.stdout  # the 0/1 mask names the option to pass
    assert '8 problems' in lines[-2]
    res = run_cli(clean, '--split', TRAIN, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run_cli(tmp_path / 'nowhere', cwd=tmp_path)
    assert res.returncode == 2 and 'nowhere' in res.stderr


def test_options(damaged, tmp_path):
    root, faults = damaged
    report = check_dataset(
        str(root), splits=[TRAIN], point_dirs=POINTS, mask_scale='auto', point_size_mismatch='error'
    )
    kinds = [(p.kind, Path(p.path)) for p in report.result.problems]
    assert ('mask-values', faults['mask-values']) not in kinds  # 0/1 accepted with 'auto'
    assert ('size-mismatch', faults['point-outside']) in kinds and not report.result.notes
    with pytest.raises(FileNotFoundError, match='img_idx/nope.txt'):
        check_dataset(str(root), splits=['img_idx/nope.txt'])
    with pytest.raises(FileNotFoundError, match='masks_x'):
        check_dataset(str(root), point_dirs={'centroid': 'masks_x'})


def test_point_off_target_and_grey_masks(clean, tmp_path):
    root = Path(shutil.copytree(clean, tmp_path / 'set'))
    stems = (root / TRAIN).read_text().split()
    stem = next(s for s in stems if cv2.imread(str(root / 'masks' / f'{s}.png'), 0).any())
    mask = cv2.imread(str(root / 'masks' / f'{stem}.png'), 0)
    ys, xs = np.nonzero(mask == 0)
    far = int(np.argmax((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))  # background, far away
    pmap = cv2.imread(str(root / 'masks_centroid' / f'{stem}.png'), 0)
    pmap[ys[far], xs[far]] = 255
    cv2.imwrite(str(root / 'masks_centroid' / f'{stem}.png'), pmap)
    grey = mask.copy()
    grey[0, 0] = 64  # a grey value, as the official IRSTD-1K masks hold: a note, not a fault
    cv2.imwrite(str(root / 'masks' / f'{stem}.png'), grey)
    report = check_dataset(str(root), splits=[TRAIN], point_dirs=POINTS)
    assert [(p.kind, Path(p.path).parent.name) for p in report.result.problems] == [
        ('point-off-target', 'masks_centroid')
    ]
    assert f'x={xs[far]}, y={ys[far]}' in report.result.problems[0].detail
    assert report.result.grey_masks == [str(root / 'masks' / f'{stem}.png')]


@pytest.mark.slow
def test_real_sirst3_test_split_passes(sirst3_root):
    report = check_dataset(str(sirst3_root), splits=['img_idx/test_SIRST3.txt'], point_dirs=POINTS)
    assert report.ok, report.lines()[:20]
    assert report.result.samples == 1079
    # the public release's coarse map of Misc_111 is in an older, larger frame: rescaled
    assert [(n.kind, Path(n.path).name) for n in report.result.notes] == [
        ('point-map-rescaled', 'Misc_111.png')
    ]
