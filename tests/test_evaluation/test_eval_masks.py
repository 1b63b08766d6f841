"""tools/analysis_tools/eval_masks.py and mmgsacp.evaluation.mask_folders: scoring folders of
saved masks, the value rule (0/1 files), its errors, and its numbers on real SIRST3 masks
against the reference implementation of tests/test_metrics.py."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence

import cv2
import numpy as np
import pytest
from PIL import Image

from mmgsacp.datasets.parts import IRSTD_1K, NUAA_SIRST, NUDT_SIRST, part_of
from mmgsacp.evaluation.mask_folders import (
    EvalError,
    build_report,
    collect_stats,
    read_mask_file,
)
from mmgsacp.utils.io import USER_ERROR, read_stems, run_tool, write_json

from ..utils import load_module, run_python_script

TESTS = Path(__file__).resolve().parent
TOOL = TESTS.parents[1] / 'tools' / 'analysis_tools' / 'eval_masks.py'


ref = load_module(TESTS / 'test_metrics.py', '_metrics_reference')


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_python_script(TOOL, *args, cwd=cwd, timeout=120)


def save_png(path: Path, mask: np.ndarray, on: int = 255) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, on, 0).astype(np.uint8)).save(path)


def strict_json(path: Path):
    """Parse JSON, failing on the NaN / Infinity that Python's json writes by default."""

    def refuse(name: str):
        raise AssertionError(f'{path} holds a bare {name}')

    return json.loads(path.read_text(), parse_constant=refuse)


def load_mask(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)) > 127


def close(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return a == pytest.approx(b, rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Small synthetic folders


@pytest.fixture()
def folders(tmp_path: Path):
    """Four images (two NUAA-SIRST, one NUDT-SIRST, one of no part) with known numbers."""
    gt_dir, pred_dir = tmp_path / 'gt', tmp_path / 'pred'
    gts: Dict[str, np.ndarray] = {}
    preds: Dict[str, np.ndarray] = {}
    g = np.zeros((10, 10), bool)
    g[2:4, 2:4] = True
    gts['Misc_1'], preds['Misc_1'] = g, g.copy()  # perfect
    g = np.zeros((10, 12), bool)
    g[5, 5] = True
    p = np.zeros((10, 12), bool)
    p[5, 8] = True  # 3 px away: missed, 1 false pixel
    gts['Misc_2'], preds['Misc_2'] = g, p
    g = np.zeros((8, 8), bool)
    g[1:3, 1:3] = True
    p = g.copy()
    p[5:7, 5:7] = True  # 4 false pixels, same area as the matched blob
    gts['000007'], preds['000007'] = g, p
    gts['extra'], preds['extra'] = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    for stem in gts:
        save_png(gt_dir / f'{stem}.png', gts[stem])
        save_png(pred_dir / f'{stem}.png', preds[stem])
    return tmp_path, gts, preds


@pytest.mark.slow
def test_json_report_keys_and_values(folders):
    root, gts, preds = folders
    out = root / 'out' / 'eval.json'
    res = run_cli('--pred-dir', root / 'pred', '--gt-dir', root / 'gt', '--json', out, cwd=root)
    assert res.returncode == 0, res.stderr
    assert 'NUAA-SIRST' in res.stdout and 'mIoU' in res.stdout
    report = json.loads(out.read_text())
    assert {'mIoU', 'nIoU', 'Pd', 'Fa', 'images', 'parts'} <= report.keys()
    assert report['images'] == 4
    assert report['mIoU'] == pytest.approx(100 * (4 + 0 + 4) / (4 + 2 + 8))
    assert report['nIoU'] == pytest.approx(100 * (1 + 0 + 0.5 + 0) / 4)
    assert report['Pd'] == pytest.approx(100 * 2 / 3)
    assert report['Fa'] == pytest.approx(1e6 * 5 / (100 + 120 + 64 + 16))
    assert list(report['parts']) == [NUAA_SIRST, NUDT_SIRST]
    nuaa = report['parts'][NUAA_SIRST]
    assert nuaa['images'] == 2 and nuaa['Pd'] == 50.0
    assert nuaa['Fa'] == pytest.approx(1e6 / 220)
    assert report['parts'][NUDT_SIRST]['Fa'] == pytest.approx(1e6 * 4 / 64)
    assert sum(v['targets'] for v in report['strata'].values()) == 3
    assert not list(out.parent.glob('.*.tmp'))  # the temporary file was renamed away


def test_split_file_and_no_parts(folders):
    root, _, _ = folders
    split = root / 'split.txt'
    split.write_text('Misc_1\n\n  000007 \n\n')
    out = root / 'eval.json'
    res = run_cli(
        '--pred-dir',
        root / 'pred',
        '--gt-dir',
        root / 'gt',
        '--split',
        split,
        '--json',
        out,
        '--part-map',
        'none',
        cwd=root,
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    assert report['images'] == 2 and report['parts'] == {}
    assert (report['mIoU'], report['Pd']) == (100 * 8 / 12, 100.0)
    assert 'split' in res.stdout  # the table is named after the list


def _resave(folder: Path, on: int) -> None:
    for path in folder.glob('*.png'):
        save_png(path, np.asarray(Image.open(path)) > 127, on=on)


def test_01_masks_are_refused_without_the_option(folders):
    root, _, _ = folders
    _resave(root / 'gt', on=1)
    res = run_cli(
        '--pred-dir', root / 'pred', '--gt-dir', root / 'gt', '--json', root / 'e.json', cwd=root
    )
    assert res.returncode == 2
    assert '--mask-scale' in res.stderr and 'only 0 and 1' in res.stderr
    assert str(root / 'gt') in res.stderr and 'Traceback' not in res.stderr
    assert not (root / 'e.json').exists()


@pytest.mark.parametrize(
    'scale,folders_01', [('01', ('gt', 'pred')), ('auto', ('gt',)), ('auto', ('pred',))]
)
def test_01_masks_with_the_option_score_like_0_255(folders, scale, folders_01):
    root, _, _ = folders

    def report(mask_scale: str) -> dict:
        stems = read_stems(root / 'gt', None)
        return build_report(
            collect_stats(root / 'pred', root / 'gt', stems, True, mask_scale=mask_scale)
        )

    want = report('255')
    for name in folders_01:
        _resave(root / name, on=1)
    got = report(scale)
    assert got == want
    assert got['Pd'] == pytest.approx(100 * 2 / 3)  # not an empty set


def test_01_scale_refuses_a_0_255_file(folders):
    root, _, _ = folders
    _resave(root / 'gt', on=1)  # predictions stay 0/255
    with pytest.raises(EvalError, match=f"{root / 'pred'}.*mask_scale is '01'"):
        collect_stats(root / 'pred', root / 'gt', ['Misc_1'], True, mask_scale='01')


def test_all_zero_masks_are_valid_and_json_is_strict(tmp_path):
    for stem in ('a', 'b'):
        save_png(tmp_path / 'gt' / f'{stem}.png', np.zeros((6, 7), bool))
        save_png(tmp_path / 'pred' / f'{stem}.png', np.zeros((6, 7), bool))
    p = np.zeros((6, 7), bool)
    p[2, 3] = True
    save_png(tmp_path / 'pred' / 'b.png', p)
    out = tmp_path / 'e.json'
    stats = collect_stats(tmp_path / 'pred', tmp_path / 'gt', ['a', 'b'], False)
    write_json(build_report(stats), out)  # what eval_masks writes with
    report = strict_json(out)
    assert report['images'] == 2 and report['targets'] == 0
    assert report['Pd'] is None  # undefined without targets: null, not NaN
    assert report['Fa'] == pytest.approx(1e6 / 84)


@pytest.mark.parametrize('top', [2, 64, 127])
def test_masks_with_nothing_above_127_are_refused(tmp_path, top):
    g = np.zeros((5, 5), np.uint8)
    g[1:3, 1:3] = top
    (tmp_path / 'g').mkdir()
    Image.fromarray(g).save(tmp_path / 'g' / 'x.png')
    for scale in ('255', 'auto', '01'):
        with pytest.raises(EvalError, match=str(tmp_path / 'g' / 'x.png')):
            read_mask_file(tmp_path / 'g' / 'x.png', scale)


def test_grey_values_are_target_above_127_and_noted(folders):
    root, gts, _ = folders
    g = np.where(gts['Misc_1'], 255, 0).astype(np.uint8)
    g[0, 0:3] = 64  # grey boundary values, as in the official IRSTD-1K masks
    Image.fromarray(g).save(root / 'gt' / 'Misc_1.png')
    grey = []
    assert np.array_equal(read_mask_file(root / 'gt' / 'Misc_1.png', grey=grey), gts['Misc_1'])
    assert grey == [str(root / 'gt' / 'Misc_1.png')]


@pytest.mark.slow
def test_missing_predictions_are_listed(folders):
    root, _, _ = folders
    for k in range(25):
        save_png(root / 'gt' / f'{100 + k:06d}.png', np.zeros((4, 4), bool))
    (root / 'pred' / 'Misc_2.png').unlink()
    res = run_cli(
        '--pred-dir', root / 'pred', '--gt-dir', root / 'gt', '--json', root / 'e.json', cwd=root
    )
    assert res.returncode != 0
    assert '26 of 29 predictions missing' in res.stderr
    assert '000100' in res.stderr and 'and 6 more' in res.stderr
    assert not (root / 'e.json').exists()


@pytest.mark.slow
def test_size_mismatch_names_the_file(folders):
    root, _, _ = folders
    save_png(root / 'pred' / '000007.png', np.zeros((8, 9), bool))
    res = run_cli('--pred-dir', root / 'pred', '--gt-dir', root / 'gt', cwd=root)
    assert res.returncode != 0
    assert 'size mismatch' in res.stderr and '000007.png' in res.stderr
    assert 'Traceback' not in res.stderr


def test_png_reading_modes(tmp_path, capsys):
    grey = np.array([[0, 127, 128, 255]], np.uint8)
    Image.fromarray(grey).save(tmp_path / 'l.png')
    Image.fromarray(grey).convert('RGB').save(tmp_path / 'rgb.png')
    Image.fromarray(grey > 127).save(tmp_path / 'one.png')
    Image.fromarray((grey.astype(np.uint16) * 257)).save(tmp_path / 'i16.png')
    for name in ('l', 'rgb', 'one', 'i16'):
        assert read_mask_file(tmp_path / f'{name}.png').tolist() == [[False, False, True, True]], (
            name
        )
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    with pytest.raises(EvalError, match='bad.png'):
        read_mask_file(tmp_path / 'bad.png')
    # the tools report it as a user error: one line naming the file, exit status 2
    assert run_tool(read_mask_file, tmp_path / 'bad.png') == USER_ERROR
    assert capsys.readouterr().err == (
        f'error: cannot decode mask {tmp_path / "bad.png"} as an 8- or 16-bit image\n'
    )


# ---------------------------------------------------------------------------------------------
# Real SIRST3 masks, perturbed


def _pick_stems(root: Path, per_part: int = 20) -> List[str]:
    stems = []
    for name in ('test_SIRST.txt', 'test_NUDT-SIRST.txt', 'test_IRSTD-1K.txt'):
        lines = [s.strip() for s in (root / 'img_idx' / name).read_text().splitlines()]
        lines = [s for s in lines if s]
        step = max(1, len(lines) // per_part)
        stems += lines[::step][:per_part]
    return stems


def _perturb(gt: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    kernel = np.ones((3, 3), np.uint8)
    if kind == 'same':
        return gt.copy()
    if kind == 'dilate':
        return cv2.dilate(gt.astype(np.uint8), kernel).astype(bool)
    if kind == 'erode':
        return cv2.erode(gt.astype(np.uint8), kernel).astype(bool)
    if kind == 'shift':
        dy, dx = rng.integers(-4, 5, size=2)
        return np.roll(gt, (int(dy), int(dx)), axis=(0, 1))
    if kind == 'blobs':
        pred = gt.copy()
        h, w = gt.shape
        for _ in range(int(rng.integers(1, 4))):
            bh, bw = rng.integers(1, 5, size=2)
            y, x = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
            pred[y : y + bh, x : x + bw] = True
        return pred
    if kind == 'drop':
        n, lab = cv2.connectedComponents(gt.astype(np.uint8), connectivity=8)
        return gt & (lab != 1) if n > 1 else gt.copy()
    if kind == 'empty':
        return np.zeros_like(gt)
    if kind == 'specks':
        return gt | (rng.random(gt.shape) < 2e-4)
    raise ValueError(kind)


KINDS = ('same', 'dilate', 'erode', 'shift', 'blobs', 'drop', 'empty', 'specks')


def _reference(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> Dict[str, float]:
    return ref.ref_metrics(
        [ref.ref_image(p, g, label=ref.ref_label_scipy) for p, g in zip(preds, gts)]
    )


@pytest.mark.slow
def test_real_masks_perturbed_match_reference(sirst3_root: Path, tmp_path: Path):
    stems = _pick_stems(sirst3_root)
    assert len(stems) == 60
    rng = np.random.default_rng(7)
    gts, preds = [], []
    for k, stem in enumerate(stems):
        gt = load_mask(sirst3_root / 'masks' / f'{stem}.png')
        pred = _perturb(gt, KINDS[k % len(KINDS)], rng)
        save_png(tmp_path / 'pred' / f'{stem}.png', pred)
        gts.append(gt)
        preds.append(pred)
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(stems) + '\n')
    out = tmp_path / 'eval.json'
    res = run_cli(
        '--pred-dir',
        tmp_path / 'pred',
        '--gt-dir',
        sirst3_root / 'masks',
        '--split',
        split,
        '--json',
        out,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())

    want = _reference(preds, gts)
    assert report['images'] == 60
    for key in ('mIoU', 'nIoU', 'Pd', 'Fa'):
        assert close(report[key], want[key]), key
    assert 0 < report['Pd'] < 100 and report['Fa'] > 0
    assert list(report['parts']) == [NUAA_SIRST, NUDT_SIRST, IRSTD_1K]
    for part, got in report['parts'].items():
        idx = [k for k, s in enumerate(stems) if part_of(s) == part]
        assert got['images'] == len(idx) == 20
        want_part = _reference([preds[k] for k in idx], [gts[k] for k in idx])
        for key in ('mIoU', 'nIoU', 'Pd', 'Fa'):
            assert close(got[key], want_part[key]), (part, key)


def test_real_masks_perfect_prediction(sirst3_root: Path, tmp_path: Path):
    # The released masks themselves (grey boundary values included) as predictions.
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(_pick_stems(sirst3_root)) + '\n')
    out = tmp_path / 'eval.json'
    masks = sirst3_root / 'masks'
    res = run_cli(
        '--pred-dir', masks, '--gt-dir', masks, '--split', split, '--json', out, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    report = strict_json(out)
    assert (report['mIoU'], report['nIoU'], report['Pd'], report['Fa']) == (100, 100, 100, 0)
    for got in report['parts'].values():
        assert (got['mIoU'], got['nIoU'], got['Pd'], got['Fa']) == (100, 100, 100, 0)
