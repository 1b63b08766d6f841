"""Synthetic IR generator and the points-from-masks rules."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from mmgsacp.datasets import synthetic
from mmgsacp.datasets.points import (
    centroid_points,
    coarse_points,
    points_from_map,
    render_point_map,
    stem_rng,
    write_point_label_dirs,
)
from mmgsacp.datasets.synthetic import make_synthetic_dataset, synthesize_frame

from ..utils import run_tool

SIZES = [(64, 96), (80, 80)]
EIGHT = np.ones((3, 3), bool)


def _files(root: Path) -> dict:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()
    }


def _reference_centroids(mask: np.ndarray) -> set:
    """Floor of each 8-connected component's (row, col) mean, independently of cv2."""
    labels, num = ndimage.label(mask > 127, structure=EIGHT)
    out = set()
    for k in range(1, num + 1):
        ys, xs = np.nonzero(labels == k)
        out.add((int(np.floor(xs.mean())), int(np.floor(ys.mean()))))
    return out


@pytest.fixture(scope='module')
def syn(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('syn') / 'set'
    make_synthetic_dataset(root, num_train=30, num_test=10, size=SIZES, seed=3)
    return root


def test_layout(syn):
    for d in ('images', 'masks', 'masks_centroid', 'masks_coarse', 'img_idx'):
        assert (syn / d).is_dir()
    train = (syn / 'img_idx' / 'train_synthetic.txt').read_text().split()
    test = (syn / 'img_idx' / 'test_synthetic.txt').read_text().split()
    assert len(train) == 30 and len(test) == 10 and not set(train) & set(test)
    for stem in train + test:
        img = cv2.imread(str(syn / 'images' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.ndim == 2 and img.shape in SIZES
        assert img.std() > 2  # clutter, not a flat frame
        for d in ('masks', 'masks_centroid', 'masks_coarse'):
            m = cv2.imread(str(syn / d / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
            assert m.shape == img.shape and m.dtype == np.uint8
            assert set(np.unique(m)) <= {0, 255}
    assert {cv2.imread(str(p), 0).shape for p in (syn / 'images').iterdir()} == set(SIZES)
    # Nothing left behind beside the set.
    assert sorted(os.listdir(syn.parent)) == ['set']


def test_point_maps_match_masks(syn):
    for p in sorted((syn / 'masks').iterdir()):
        mask = cv2.imread(str(p), 0)
        cen = cv2.imread(str(syn / 'masks_centroid' / p.name), 0)
        coarse = cv2.imread(str(syn / 'masks_coarse' / p.name), 0)
        ref = _reference_centroids(mask)
        # One lit pixel per target, at the floored centroid.
        assert int((cen > 127).sum()) == len(ref)
        assert {tuple(map(int, q)) for q in points_from_map(cen)} == ref
        labels, num = ndimage.label(mask > 127, structure=EIGHT)
        ys, xs = np.nonzero(coarse > 127)
        assert len(ys) == num
        assert sorted(labels[ys, xs].tolist()) == list(range(1, num + 1))


def test_targets_in_range_and_empty_frames(tmp_path):
    root = tmp_path / 'stats'
    info = make_synthetic_dataset(root, num_train=60, num_test=0, size=(96, 96), seed=0)
    areas, per_frame = [], []
    for p in sorted((root / 'masks').iterdir()):
        labels, num = ndimage.label(cv2.imread(str(p), 0) > 127, structure=EIGHT)
        per_frame.append(num)
        areas += np.bincount(labels.ravel())[1:].tolist()
    assert info['num_targets'] == sum(per_frame)
    assert info['num_empty'] == per_frame.count(0) > 0
    assert max(per_frame) >= 3
    assert min(areas) >= 1 and max(areas) <= 150
    assert min(areas) <= 4 and max(areas) >= 50  # both point-like and extended targets


def test_targets_stand_out_locally():
    rng = np.random.default_rng(7)
    contrasts = []
    for _ in range(20):
        img, mask = synthesize_frame(rng, (128, 128), empty_prob=0.0)
        labels, num = ndimage.label(mask > 127, structure=EIGHT)
        for k in range(1, num + 1):
            blob = labels == k
            ring = ndimage.binary_dilation(blob, EIGHT, iterations=4) & ~ndimage.binary_dilation(
                blob, EIGHT, iterations=2
            )
            contrasts.append(img[blob].astype(float).max() - img[ring].mean())
    assert np.median(contrasts) > 10 and np.mean(np.array(contrasts) > 0) > 0.9


def test_deterministic_by_seed(tmp_path):
    kw = dict(num_train=6, num_test=2, size=SIZES)
    make_synthetic_dataset(tmp_path / 'a', seed=11, **kw)
    make_synthetic_dataset(tmp_path / 'b', seed=11, **kw)
    make_synthetic_dataset(tmp_path / 'c', seed=12, **kw)
    a, b, c = (_files(tmp_path / n) for n in 'abc')
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_refuses_overwrite_and_replaces_atomically(tmp_path, monkeypatch):
    root = tmp_path / 'set'
    make_synthetic_dataset(root, num_train=2, num_test=1, size=(32, 32))
    before = _files(root)
    with pytest.raises(FileExistsError, match='not empty'):
        make_synthetic_dataset(root, num_train=3, num_test=1, size=(32, 32))
    assert _files(root) == before

    # A crash half-way keeps the old set and leaves no temporary folder.
    real = synthetic.synthesize_frame
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('boom')
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, 'synthesize_frame', failing)
    with pytest.raises(RuntimeError, match='boom'):
        make_synthetic_dataset(root, num_train=3, num_test=1, size=(32, 32), overwrite=True)
    monkeypatch.undo()
    assert _files(root) == before and sorted(os.listdir(tmp_path)) == ['set']

    make_synthetic_dataset(root, num_train=3, num_test=1, size=(32, 32), overwrite=True)
    assert len(os.listdir(root / 'images')) == 4 and sorted(os.listdir(tmp_path)) == ['set']

    (tmp_path / 'empty').mkdir()
    make_synthetic_dataset(tmp_path / 'empty', num_train=1, num_test=0, size=(32, 32))
    assert len(os.listdir(tmp_path / 'empty' / 'images')) == 1


@pytest.mark.slow
def test_full_size_set(tmp_path):
    # a set of the size the synthetic configs train on; no wall-clock bound (machines differ)
    root = tmp_path / 'big'
    make_synthetic_dataset(root, num_train=160, num_test=40, size=(256, 256))
    idx = {
        split: (root / 'img_idx' / f'{split}_synthetic.txt').read_text().split()
        for split in ('train', 'test')
    }
    assert (len(idx['train']), len(idx['test'])) == (160, 40)
    assert not set(idx['train']) & set(idx['test'])
    for sub in ('images', 'masks'):
        assert sorted(p.stem for p in (root / sub).iterdir()) == sorted(idx['train'] + idx['test'])
    last = cv2.imread(str(root / 'images' / f'{idx["test"][-1]}.png'), cv2.IMREAD_UNCHANGED)
    assert last.shape[:2] == (256, 256)


def test_centroid_rule_edge_cases():
    mask = np.zeros((9, 12), np.uint8)
    mask[1, 1] = 255  # single pixel
    mask[4:6, 4:6] = 255  # 2x2: mean 4.5 -> 4
    mask[7, 8] = mask[8, 9] = 255  # diagonal neighbours: one 8-connected target
    mask[0, 10:12] = 64  # grey boundary value: background
    pts = centroid_points(mask)
    assert pts.dtype == np.float32 and pts.shape == (3, 2)
    assert {tuple(map(int, q)) for q in pts} == {(1, 1), (4, 4), (8, 7)}
    assert centroid_points(np.zeros((5, 5), np.uint8)).shape == (0, 2)
    # Hollow ring: the centroid is off the target, the coarse point is not.
    ring = np.zeros((15, 15), np.uint8)
    cv2.circle(ring, (7, 7), 5, 255, 1)
    assert ring[7, 7] == 0 and tuple(centroid_points(ring)[0]) == (7, 7)
    for seed in range(5):
        x, y = coarse_points(ring, np.random.default_rng(seed))[0].astype(int)
        assert ring[y, x] == 255


def test_points_from_thick_clicks():
    pm = np.zeros((10, 10), np.uint8)
    pm[2:4, 2:4] = 255  # a 2x2 click counts once
    pm[8, 8] = 200
    pm[0, 9] = 100  # dim: not lit
    assert {tuple(map(int, q)) for q in points_from_map(pm)} == {(2, 2), (8, 8)}
    assert np.array_equal(render_point_map(np.array([[3, 1]]), (4, 5))[1, 3], 255)


def test_make_synthetic_cli(tmp_path, capsys):
    out = tmp_path / 'cli'
    tool = 'dataset_converters/make_synthetic.py'
    assert run_tool(tool, out, '--num-train', '3', '--num-test', '1', '--sizes', '40x48') == 0
    assert 'wrote 3 train + 1 test' in capsys.readouterr().out
    assert cv2.imread(str(out / 'images' / 'syn_000000.png'), 0).shape == (40, 48)
    assert run_tool(tool, out, '--num-train', '1', '--num-test', '0') == 2
    assert 'not empty' in capsys.readouterr().err


def test_make_point_labels_reproduces_generator(tmp_path):
    tool = 'dataset_converters/make_point_labels.py'
    root = tmp_path / 'set'
    make_synthetic_dataset(root, num_train=8, num_test=2, size=(48, 48), seed=5)
    before = _files(root)
    assert run_tool(tool, '--data-root', root, '--seed', '5') == 2  # refuses existing folders
    for d in ('masks_centroid', 'masks_coarse'):
        for p in (root / d).iterdir():
            p.unlink()
        (root / d).rmdir()
    assert run_tool(tool, '--data-root', root, '--seed', '5') == 0
    assert _files(root) == before
    with pytest.raises(FileExistsError):
        write_point_label_dirs(str(root), seed=5)
    write_point_label_dirs(str(root), seed=6, overwrite=True)
    assert _files(root) != before
    assert sorted(os.listdir(root)) == sorted(
        ['images', 'masks', 'masks_centroid', 'masks_coarse', 'img_idx']
    )
    assert stem_rng(1, 'a').random() == stem_rng(1, 'a').random() != stem_rng(1, 'b').random()
