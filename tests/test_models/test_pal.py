"""PAL: initial labels, easy/hard split, activation, decayed update, sampler, training."""

import glob
import os.path as osp
from types import SimpleNamespace
from unittest.mock import MagicMock

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmgsacp.datasets.samplers import ActiveSubsetSampler
from mmgsacp.datasets.synthetic import make_synthetic_dataset
from mmgsacp.engine.hooks.pal_hook import PALHook, update_iters
from mmgsacp.engine.hooks.utils import point_windows
from mmgsacp.models.utils.image_label_store import ImageLabelStore
from mmgsacp.models.utils.label_store import point_label_infos
from mmgsacp.models.utils.pal import (
    activation_check,
    decayed_update,
    initial_label,
    initial_point_mask,
    is_easy,
    label_quality,
    miss_tolerance,
)

from ..utils import tiny_config

torch.set_num_threads(1)


def _frame(size=40, square=None, level=200.0):
    img = np.full((size, size), 50.0, np.float32)
    if square is not None:
        y0, x0, side = square
        img[y0 : y0 + side, x0 : x0 + side] = level
    return img


# --------------------------------------------------------------------------- initial labels


def test_initial_label_fills_the_contour_holding_the_point():
    img = _frame(square=(18, 18, 5))  # a 5 x 5 bright target
    mask = initial_point_mask(img, (20, 20))
    assert mask is not None
    assert mask[18:23, 18:23].all()  # the target is inside the filled contour
    ys, xs = np.nonzero(mask)
    assert ys.min() >= 16 and ys.max() <= 24 and xs.min() >= 16 and xs.max() <= 24
    assert mask.sum() <= 50


def test_initial_label_area_limit_and_flat_background():
    big = _frame(square=(14, 14, 12))  # 144 px: its contour is over 50 px
    assert initial_point_mask(big, (20, 20)) is None
    assert initial_point_mask(big, (20, 20), max_area=400) is not None
    assert initial_point_mask(_frame(), (20, 20)) is None  # no edge at all


def test_window_is_twenty_pixels_around_the_point():
    img = _frame(size=60, square=(40, 40, 5))
    # the target is 20 px from the point: outside its 20 x 20 window
    assert initial_point_mask(img, (22, 22)) is None
    assert initial_point_mask(img, (42, 42)) is not None


def test_initial_label_keeps_points_and_easy_hard_decision():
    img = _frame(size=60, square=(18, 18, 5))
    label, got = initial_label(img, [(20, 20), (45, 45)])
    assert got.tolist() == [True, False]
    assert label.dtype == np.uint8 and label[45, 45] == 255 and label[20, 20] == 255
    assert set(np.unique(label)) == {0, 255}
    assert not is_easy(got)  # 50 % < 80 %
    assert is_easy(np.array([True, True, True, True, False]))  # exactly 80 %
    assert not is_easy(np.array([True, True, True, False]))
    assert is_easy(np.zeros(0, bool))


# --------------------------------------------------------------------------- activation


def test_miss_tolerance_rises_linearly():
    assert miss_tolerance(0.0) == pytest.approx(0.2)
    assert miss_tolerance(0.5) == pytest.approx(0.6)
    assert miss_tolerance(1.0) == miss_tolerance(2.0) == pytest.approx(1.0)


def test_activation_missed_point_share():
    pred = np.zeros((50, 50), np.float32)
    pred[8:13, 8:13] = 0.9  # holds point 0
    points = [(10, 10), (30, 30), (40, 10), (10, 40), (40, 40)]  # 4 of 5 missed
    check = activation_check(pred, points, tolerance=0.2)
    assert check['missed'] == pytest.approx(0.8) and not check['active']
    assert activation_check(pred, points, tolerance=0.8)['active']
    label = check['label']
    assert (label[8:13, 8:13] == 255).all()  # the filled contour holding the point
    assert all(label[y, x] == 255 for x, y in points)  # plus the points
    assert int((label == 255).sum()) == 25 + 4


def test_activation_false_component_limit():
    pred = np.zeros((60, 60), np.float32)
    pred[8:11, 8:11] = 0.9  # holds the point
    spots = [(y, x) for y in (20, 30, 40, 50) for x in (20, 30, 40, 50)][:6]
    for y, x in spots[:5]:
        pred[y, x] = 0.9
    check = activation_check(pred, [(9, 9)], tolerance=0.2)
    assert check['false'] == 5 and check['active']  # 5 per point is allowed
    y, x = spots[5]
    pred[y, x] = 0.9
    check = activation_check(pred, [(9, 9)], tolerance=0.2)
    assert check['false'] == 6 and not check['active']
    assert check['label'][20, 20] == 0  # false components are not labelled
    # an unobserved false component does not count
    seen = np.ones_like(pred, bool)
    seen[y, x] = False
    assert activation_check(pred, [(9, 9)], 0.2, observed=seen)['active']


# --------------------------------------------------------------------------- update


def test_decayed_update_averages_inside_and_decays_outside():
    label = np.zeros((41, 41), np.uint8)
    label[20, 20] = 255  # the point
    label[19:22, 21] = 255  # part of its component
    label[5, 5] = 200  # a stale label far away
    pred = np.zeros((41, 41), np.float32)
    pred[19:22, 20:23] = 0.8
    new = decayed_update(label, pred, [(20, 20)])
    assert new[20, 20] == 255
    assert new[20, 22] == round(0.8 / 2 * 255)  # kept candidate: (0 + 0.8) / 2
    assert new[20, 21] == round((1.0 + 0.8) / 2 * 255)  # (1 + 0.8) / 2, not kept at 1
    assert new[5, 5] == round(0.97 * 200)  # outside: decayed
    assert new[0, 0] == 0


def test_label_quality_figures():
    lab = np.zeros((4, 4), np.uint8)
    lab[0, :2] = 255
    lab[1, 0] = 100  # below 127.5: not target
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 1:3] = 255
    q = label_quality([lab], [mask])
    assert q == pytest.approx(dict(iou=1 / 3, recall=0.5, precision=0.5))


# --------------------------------------------------------------------------- components


def test_update_schedule_and_windows():
    assert update_iters(1000, 0.2, 0.1) == [200, 300, 400, 500, 600, 700, 800, 900]
    boxes = point_windows(np.array([[2, 3], [90, 50]]), (60, 100), 64)
    assert boxes == [(0, 0, 60, 64), (0, 36, 60, 100)]


def test_store_crop_and_state_round_trip():
    labels = [np.zeros((5, 6), np.uint8), np.zeros((4, 4), np.uint8)]
    labels[0][2, 3] = 255
    store = ImageLabelStore(
        ['a', 'b'], [np.array([[3, 2]]), np.zeros((0, 2))], labels, [True, False]
    )
    coords = torch.tensor([[[3, 2], [0, 0]]])  # (1, 2, 2): crop pixels from (3, 2), (0, 0)
    valid = torch.tensor([[True, False]])
    assert store.crop('a', coords, valid).tolist() == [[255, 0]]
    state = store.state_dict()
    store.set_label(0, np.full((5, 6), 7, np.uint8))
    store.active[1] = True
    store.load_state_dict(state)
    assert store.labels[0][2, 3] == 255 and store.labels[0].sum() == 255
    assert store.active.tolist() == [True, False]
    with pytest.raises(KeyError, match="'c'"):
        store.position('c')
    with pytest.raises(ValueError, match='twice'):
        ImageLabelStore(['a', 'a'], [np.zeros((0, 2))] * 2, labels, [True, True])


def test_hook_checkpoints_its_store_and_restores_it_once_built():
    labels = [np.zeros((5, 6), np.uint8)]
    labels[0][2, 3] = 255

    def store():
        return ImageLabelStore(['a'], [np.array([[3, 2]])], [lab.copy() for lab in labels], [True])

    saving = PALHook()
    saving.store = store()
    checkpoint = {}
    saving.before_save_checkpoint(None, checkpoint)
    assert list(checkpoint) == ['pal_labels']

    runner = SimpleNamespace(logger=MagicMock())
    # checkpoints load before before_train builds the store: the labels wait for it
    loading = PALHook()
    loading.after_load_checkpoint(runner, checkpoint)
    loading.store = store()
    loading.store.set_label(0, np.zeros((5, 6), np.uint8))
    loading._restore_pending(runner)
    assert loading.store.labels[0][2, 3] == 255 and loading.store.num_updates.tolist() == [0]
    runner.logger.warning.assert_not_called()

    # labels of another training set are not used, with a warning that says why
    other = PALHook()
    other.after_load_checkpoint(runner, checkpoint)
    other.store = ImageLabelStore(['z'], [np.array([[3, 2]])], [labels[0].copy()], [True])
    other._restore_pending(runner)
    assert other.store.stems == ['z'] and other._pending_state is None
    assert 'other images' in runner.logger.warning.call_args[0][0]


def test_stores_need_point_labelled_datasets():
    class NoPoints:
        def __len__(self):
            return 1

        def get_data_info(self, i):
            return dict(img_path='images/x.png', stem='x')

    with pytest.raises(KeyError, match=r'images/x\.png.*PAL needs a dataset with point labels'):
        list(point_label_infos(NoPoints(), 'PAL'))


def test_sampler_follows_the_active_set():
    sampler = ActiveSubsetSampler(list(range(10)), seed=0)
    it = iter(sampler)
    assert sorted(next(it) for _ in range(10)) == list(range(10))
    sampler.set_active([2, 5])
    drawn = {next(it) for _ in range(20)}
    assert drawn == {2, 5}
    with pytest.raises(ValueError, match='empty'):
        sampler.set_active([])
    with pytest.raises(ValueError, match='range'):
        sampler.set_active([10])


# --------------------------------------------------------------------------- training


class _Record(Hook):
    """Checks that every drawn image was active when it was drawn."""

    priority = 'LOWEST'

    def __init__(self):
        self.initial_active = None
        self.inactive_drawn = 0
        self.drawn = 0

    def before_train(self, runner):
        self.initial_active = runner.model.label_store.active.copy()

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        store = runner.model.label_store
        for sample in data_batch['data_samples']:
            self.drawn += 1
            self.inactive_drawn += int(not store.active[store.position(sample.metainfo['stem'])])


@pytest.mark.slow
def test_pal_trains_only_on_active_images_through_every_phase(tmp_path):
    init_default_scope('mmseg')
    root = str(tmp_path / 'syn')
    make_synthetic_dataset(root, num_train=16, num_test=4, size=(64, 64), seed=3)
    cfg = tiny_config(
        'pal/pal_1k_sirst3.py', root, str(tmp_path / 'w'), iters=10, batch=4, val=False
    )
    # generous initial contours so some images start easy on the synthetic frames
    cfg.default_hooks.pal.update(infer_window=None, initial_cfg=dict(max_area=400))
    runner = Runner.from_cfg(cfg)
    record = _Record()
    runner.register_hook(record)
    runner.train()
    store = runner.model.label_store
    hook = [h for h in runner.hooks if type(h).__name__ == 'PALHook'][0]
    assert hook.schedule == [2, 3, 4, 5, 6, 7, 8, 9]
    assert [hook.phase(s) for s in (1, 2, 8, 9)] == [1, 2, 2, 3]
    assert 0 < record.initial_active.sum() < len(store)  # an easy/hard split
    assert record.drawn == 40 and record.inactive_drawn == 0
    # the missed-point tolerance reaches 1 at the end of phase 2: hard images with at most
    # 5 false components per point are in by then
    assert store.active.sum() > record.initial_active.sum()
    assert store.num_updates[record.initial_active].min() >= 1
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    for text in (
        'easy, ',
        'phase 1 (easy images only)',
        'phase 2 (updates + activation)',
        'phase 3 (updates only)',
        'hard images activated',
        'pal_active',
    ):
        assert text in log, text
