"""Threshold / min-area sweeps (mmgsacp.evaluation.sweep), the folder analysis
(mmgsacp.analysis.pareto) and tools/analysis_tools/analyze_pareto.py."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np
import pytest

from mmgsacp.analysis.pareto import CSV_COLUMNS, analyze_pareto, read_sweep_csv
from mmgsacp.evaluation.functional import evaluate_masks, image_stats
from mmgsacp.evaluation.sweep import (
    SweepPoint,
    choose_operating_point,
    parse_thresholds,
    remove_small_components,
    sweep,
    sweep_image_stats,
)
from mmgsacp.utils.io import InputError

from ..utils import run_tool

TOOL = 'analysis_tools/analyze_pareto.py'
HEADLINE = ('mIoU', 'nIoU', 'Pd', 'Fa')


def run_cli(prob_dir, gt_dir, out_dir, *options) -> int:
    """``analyze_pareto.py`` on the two folders into ``out_dir`` (no progress bar), with
    ``options``; returns its exit status."""
    return run_tool(
        TOOL,
        '--prob-dir',
        prob_dir,
        '--gt-dir',
        gt_dir,
        '--out-dir',
        out_dir,
        '--no-progress',
        *options,
    )


def _square(img: np.ndarray, r: int, c: int, size: int, value) -> None:
    img[r : r + size, c : c + size] = value


def make_set() -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """Hand-made 16-bit probability maps (uint16) and truth masks (bool), 32x32.

    Image a: a well-detected target, a 1-px and a 2-px false blob above 0.5, a 4-px false blob
    at 0.7; image b: a target detected only at low thresholds, values straddling 0.5 by one
    16-bit step; image c: no target, one 1-px false alarm.
    """
    probs, gts = {}, {}
    p = np.full((32, 32), 3000, np.uint16)
    g = np.zeros((32, 32), bool)
    _square(g, 4, 4, 3, True)
    _square(p, 4, 4, 3, 60000)
    p[20, 20] = 50000  # 1-px false blob
    p[25, 5:7] = 40000  # 2-px false blob
    _square(p, 10, 24, 2, 46000)  # 4-px false blob, p ~ 0.70
    probs['a'], gts['a'] = p, g

    p = np.full((32, 32), 1000, np.uint16)
    g = np.zeros((32, 32), bool)
    _square(g, 15, 15, 4, True)
    _square(p, 15, 15, 4, 26000)  # p ~ 0.40: found below 0.4 only
    p[15, 15] = 32768  # 0.500008 > 0.5
    p[18, 18] = 32767  # 0.499992, not > 0.5
    probs['b'], gts['b'] = p, g

    p = np.zeros((32, 32), np.uint16)
    p[3, 30] = 65535
    probs['c'], gts['c'] = p, np.zeros((32, 32), bool)
    return probs, gts


def write_set(root: Path, probs, gts) -> Tuple[Path, Path]:
    prob_dir, gt_dir = root / 'probs', root / 'masks'
    prob_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for stem in probs:
        assert cv2.imwrite(str(prob_dir / f'{stem}.png'), probs[stem])
        assert cv2.imwrite(str(gt_dir / f'{stem}.png'), gts[stem].astype(np.uint8) * 255)
    return prob_dir, gt_dir


def read_csv(path: Path) -> List[Dict[str, float]]:
    with open(path, newline='') as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture()
def folders(tmp_path: Path):
    probs, gts = make_set()
    prob_dir, gt_dir = write_set(tmp_path, probs, gts)
    return probs, gts, prob_dir, gt_dir


# ---------------------------------------------------------------------------------------------
# Pure functions


def test_parse_thresholds_range_and_list():
    t = parse_thresholds('0.05:0.95:0.05')
    assert len(t) == 19 and t[0] == 0.05 and t[-1] == 0.95 and 0.3 in t
    assert parse_thresholds(['0.7', '0.2', '0.2']).tolist() == [0.2, 0.7]
    assert parse_thresholds(['0.1,0.5']).tolist() == [0.1, 0.5]
    # Ranges and single values mix: a coarse grid with a finer tail.
    mixed = parse_thresholds(['0.1:0.9:0.4', '0.95', '0.99,0.5'])
    assert mixed.tolist() == [0.1, 0.5, 0.9, 0.95, 0.99]
    assert parse_thresholds([0.3, '0.2:0.3:0.1']).tolist() == [0.2, 0.3]
    for bad in ('0.5:0.1:0.1', '0:1:0', '0.2,1.0', 'a', '', ['0.1:0.5:0.1', '0.2:0.3']):
        with pytest.raises(ValueError):
            parse_thresholds(bad)


def test_sweep_at_half_reproduces_evaluate_masks_exactly():
    probs, gts = make_set()
    stems = sorted(probs)
    maps = [probs[s] / 65535.0 for s in stems]
    points = sweep(zip(maps, (gts[s] for s in stems)), parse_thresholds('0.1:0.9:0.1'))
    at_half = next(p for p in points if p.threshold == 0.5)
    ref, _ = evaluate_masks([m > 0.5 for m in maps], [gts[s] for s in stems])
    for key in HEADLINE:
        assert getattr(at_half, key) == ref[key], key
    assert 0 < at_half.mIoU < 100 and at_half.Fa > 0


def test_cached_grid_equals_direct_image_stats():
    # Random maps hit every path of the mask / min-area de-duplication.
    rng = np.random.default_rng(0)
    thresholds = parse_thresholds('0.1:0.9:0.1')
    for _ in range(4):
        prob = np.round(rng.random((24, 24)) ** 3, 1)  # few distinct values: shared masks
        gt = rng.random((24, 24)) > 0.9
        grid = sweep_image_stats(prob, gt, thresholds, (0, 2, 3, 6))
        for k, t in enumerate(thresholds):
            for j, area in enumerate((0, 2, 3, 6)):
                direct = image_stats(remove_small_components(prob > t, area), gt)
                assert grid[k][j] == direct, (t, area)


def test_min_area_drops_small_false_blobs():
    probs, gts = make_set()
    stems = sorted(probs)
    maps = [probs[s] / 65535.0 for s in stems]
    points = sweep(zip(maps, (gts[s] for s in stems)), np.array([0.5]), (0, 3, 5))
    by_area = {p.min_area: p for p in points}
    # the 1-px and 2-px blobs go at 3, the 4-px one too at 5; the 9-px detection of a stays,
    # b's 1-px detection (a true hit) goes with the false blobs
    assert by_area[3].Fa < by_area[0].Fa
    assert by_area[5].Fa < by_area[3].Fa
    assert (by_area[0].Pd, by_area[3].Pd, by_area[5].Pd) == (100.0, 50.0, 50.0)
    ref, _ = evaluate_masks(
        [remove_small_components(m > 0.5, 3) for m in maps], [gts[s] for s in stems]
    )
    assert all(getattr(by_area[3], k) == ref[k] for k in HEADLINE)


def test_operating_point_respects_fa_budget():
    pts = [
        SweepPoint(0.3, 0, 60.0, 55.0, 100.0, 30.0),
        SweepPoint(0.5, 0, 70.0, 60.0, 90.0, 12.0),
        SweepPoint(0.7, 0, 65.0, 58.0, 95.0, 8.0),
        SweepPoint(0.9, 0, 50.0, 45.0, 80.0, 2.0),
    ]
    assert choose_operating_point(pts, 10.0).threshold == 0.7  # 0.5 has more mIoU, too much Fa
    assert choose_operating_point(pts, 12.0).threshold == 0.5  # the budget is inclusive
    assert choose_operating_point(pts, 10.0, select='Pd').threshold == 0.7
    assert choose_operating_point(pts, 100.0, select='Pd').threshold == 0.3
    assert choose_operating_point(pts, 1.0) is None
    with pytest.raises(ValueError):
        choose_operating_point(pts, 10.0, select='Fa')


def test_empty_sweep_is_an_error():
    with pytest.raises(ValueError, match='empty'):
        sweep(iter([]), np.array([0.5]))


# ---------------------------------------------------------------------------------------------
# Folder analysis and CLI


def test_cli_writes_csv_plot_and_chosen_point(folders, tmp_path, capsys):
    probs, gts, prob_dir, gt_dir = folders
    out = tmp_path / 'pareto'
    rc = run_cli(
        prob_dir,
        gt_dir,
        out,
        '--thresholds',
        '0.1:0.9:0.1',
        '--min-areas',
        '0',
        '3',
        '--target-fa',
        '3000',
    )
    assert rc == 0
    rows = read_csv(out / 'pareto.csv')
    assert len(rows) == 9 * 2 and list(rows[0]) == list(CSV_COLUMNS)
    stems = sorted(probs)
    ref, _ = evaluate_masks([probs[s] / 65535.0 > 0.5 for s in stems], [gts[s] for s in stems])
    row = next(r for r in rows if r['threshold'] == 0.5 and r['min_area'] == 0)
    assert all(row[k] == ref[k] for k in HEADLINE)  # repr in the CSV round-trips exactly

    chosen = json.loads((out / 'operating_point.json').read_text())['point']
    feasible = [r for r in rows if r['Fa'] <= 3000]
    assert chosen['Fa'] <= 3000
    assert chosen['mIoU'] == max(r['mIoU'] for r in feasible)
    printed = capsys.readouterr().out
    assert f'threshold {chosen["threshold"]:g}, min_area {chosen["min_area"]}' in printed
    plot = cv2.imread(str(out / 'pareto.png'))
    assert plot is not None and plot.shape[0] > 100
    assert sorted(p.name for p in out.iterdir()) == [
        'operating_point.json',
        'pareto.csv',
        'pareto.png',
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.pareto')]
    # The sweep file re-reads as the points the analysis returned.
    report = analyze_pareto(
        prob_dir,
        gt_dir,
        out,
        thresholds=['0.1:0.9:0.1'],
        min_areas=[0, 3],
        overwrite=True,
        progress=False,
    )
    assert read_sweep_csv(out / 'pareto.csv') == report.points


def test_reads_npy_and_8bit_like_16bit(folders, tmp_path):
    probs, gts, prob_dir, gt_dir = folders
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    np.save(mixed / 'a.npy', probs['a'] / 65535.0)
    # 8-bit: only the values at 0 / 255 survive unchanged, which is all image c holds
    assert cv2.imwrite(str(mixed / 'c.png'), (probs['c'] // 257).astype(np.uint8))
    assert cv2.imwrite(str(mixed / 'b.png'), probs['b'])
    outs = []
    for name, folder in (('ref', prob_dir), ('mixed', mixed)):
        out = tmp_path / f'out_{name}'
        analyze_pareto(folder, gt_dir, out, thresholds=['0.3', '0.5'], progress=False)
        outs.append(read_csv(out / 'pareto.csv'))
    assert outs[0] == outs[1]


def test_no_point_within_budget(folders, tmp_path, capsys):
    _, _, prob_dir, gt_dir = folders
    out = tmp_path / 'p'
    assert run_cli(prob_dir, gt_dir, out, '--thresholds', '0.5', '--target-fa', '0') == 0
    assert 'no operating point has Fa <= 0' in capsys.readouterr().out
    assert json.loads((out / 'operating_point.json').read_text())['point'] is None


def test_empty_set_is_an_error(folders, tmp_path, capsys):
    _, _, prob_dir, gt_dir = folders
    empty_probs = tmp_path / 'none'
    empty_probs.mkdir()
    out = tmp_path / 'o'
    with pytest.raises(InputError, match='empty prediction set'):
        analyze_pareto(empty_probs, gt_dir, out, progress=False)
    split = tmp_path / 'split.txt'
    split.write_text('\n  \n')
    with pytest.raises(InputError, match='empty prediction set'):
        analyze_pareto(prob_dir, gt_dir, out, split=split, progress=False)
    assert not out.exists()
    # The tool reports it with exit status 2.
    assert run_cli(empty_probs, gt_dir, out) == 2
    assert 'error: empty prediction set' in capsys.readouterr().err


def test_missing_stems_are_listed(folders, tmp_path):
    _, _, prob_dir, gt_dir = folders
    (prob_dir / 'a.png').unlink()
    (prob_dir / 'c.png').unlink()
    with pytest.raises(InputError, match='2 of 3 probability maps missing') as err:
        analyze_pareto(prob_dir, gt_dir, tmp_path / 'o', progress=False)
    assert 'a, c' in str(err.value)
    assert not (tmp_path / 'o').exists()


def test_refuses_non_empty_out_dir_unless_overwrite(folders, tmp_path):
    _, _, prob_dir, gt_dir = folders
    out = tmp_path / 'o'
    out.mkdir()
    (out / 'keep.txt').write_text('x')
    with pytest.raises(InputError, match='not empty'):
        analyze_pareto(prob_dir, gt_dir, out, thresholds=['0.5'], progress=False)
    assert (out / 'keep.txt').is_file()
    analyze_pareto(prob_dir, gt_dir, out, thresholds=['0.5'], overwrite=True, progress=False)
    assert not (out / 'keep.txt').exists() and (out / 'pareto.csv').is_file()
