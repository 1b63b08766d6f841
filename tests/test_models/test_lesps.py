"""LESPS label evolution: the update rule, coordinates through augmentation, training, resume."""

import itertools
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.apis import predict_probabilities, read_ir_frame
from mmgsacp.datasets.transforms import (
    LoadPixelCoordinates,
    PackIRInputsWithCoords,
    RandomFlipIR,
    RandomRot90,
    RandomTranspose,
    TargetAwareRandomCrop,
    split_pixel_coords,
)
from mmgsacp.datasets.transforms.coordinates import VALID_MARK
from mmgsacp.engine.hooks.label_evolution_hook import LabelEvolutionHook, is_update_epoch
from mmgsacp.models.segmentors.label_evolution_segmentor import (
    LabelEvolutionSegmentor,
    label_drift_stats,
)
from mmgsacp.models.utils.label_evolution import (
    PatchLabelStore,
    crop_to_patches,
    evolution_threshold,
    evolve_label,
    evolve_patches,
    patches_to_crop,
)
from mmgsacp.utils.config import use_synthetic

from ..utils import config_path, synthetic_root, tiny_config

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


@pytest.fixture(scope='module')
def syn_root(tmp_path_factory):
    return synthetic_root(tmp_path_factory, num_train=24, num_test=6, seed=3)


def _point_label(h, w, points):
    label = torch.zeros(h, w)
    for x, y in points:
        label[y, x] = 1.0
    return label


# --------------------------------------------------------------------------- the rule


def test_threshold_value_and_cap():
    peak = torch.tensor([0.8, 0.8, 0.8])
    # size factor 1 / (0.0015 * 1000) = 2/3: T = 0.8 * (0.5 + 0.5 * 0.5 * 2/3)
    t = evolution_threshold(peak, torch.tensor([1, 2, 50]), 1000.0)
    assert t[0].item() == pytest.approx(0.8 * (0.5 + 0.5 * 0.5 * 2 / 3))
    # the published form Tb*m + k*(m - Tb*m)*size/(0.0015*HW), uncapped while below m
    assert t[1].item() == pytest.approx(0.4 + 0.5 * 0.4 * 2 / 1.5)
    assert t[2].item() == pytest.approx(0.8)  # capped: T <= max
    assert evolution_threshold(
        peak[:1], torch.tensor([1]), 1000.0, tb=0.3, k=0.0
    ).item() == pytest.approx(0.24)

    # in the rule: 41 x 41 image, one point, neighbourhood max 0.9 -> T = 0.9 * 0.5 * (1 + 0.5
    # / (0.0015 * 1681)) = 0.5392...
    expected_t = 0.9 * (0.5 + 0.5 * 0.5 / (0.0015 * 41 * 41))
    pred = torch.zeros(41, 41)
    pred[20, 20] = 0.9
    pred[20, 21] = expected_t + 1e-3
    pred[20, 19] = expected_t - 1e-3
    new = evolve_label(_point_label(41, 41, [(20, 20)]), pred, [(20, 20)])
    assert new[20, 21] == pytest.approx((expected_t + 1e-3) / 2)
    assert new[20, 19] == 0


def test_touch_rule_drops_blobs_away_from_the_centroid():
    pred = torch.zeros(41, 41)
    pred[20, 21:24] = 0.9  # touches the point's 3x3 cell
    pred[22, 22] = 0.9  # two rows below it: a blob of its own, away from the cell
    pred[28:31, 28:31] = 0.9  # inside the 33x33 neighbourhood, not touching the cell
    pred[19, 19] = 0.9  # a one-pixel blob on the cell's corner
    new = evolve_label(_point_label(41, 41, [(20, 20)]), pred, [(20, 20)])
    assert torch.all(new[20, 21:24] == 0.45) and new[19, 19] == 0.45
    assert new[22, 22] == 0
    assert torch.all(new[28:31, 28:31] == 0)
    pred[21, 21] = 0.9  # now (22, 22) joins a touching blob, diagonally through (21, 21)
    new = evolve_label(_point_label(41, 41, [(20, 20)]), pred, [(20, 20)])
    assert new[22, 22] == 0.45


def test_a_lone_blob_is_kept_even_away_from_the_centroid():
    # one candidate blob that misses the 3x3 cell: LESPS drops blobs only when there are
    # several, so this one is averaged in
    pred = torch.zeros(41, 41)
    pred[26:29, 26:29] = 0.9
    new = evolve_label(_point_label(41, 41, [(20, 20)]), pred, [(20, 20)])
    assert torch.all(new[26:29, 26:29] == 0.45)
    pred[10, 10] = 0.9  # a second blob: now neither touches the cell, both go
    new = evolve_label(_point_label(41, 41, [(20, 20)]), pred, [(20, 20)])
    assert int((new > 0).sum()) == 1
    # the patch form applies the same rule
    for pr, expect in ((pred, 0), (torch.where(torch.arange(41).view(-1, 1) == 10, 0.0, pred), 9)):
        p = evolve_patches(
            _point_label(41, 41, [(20, 20)])[None],
            pr[None],
            torch.ones(1, 41, 41, dtype=torch.bool),
            torch.zeros(1, 41, 41, dtype=torch.bool),
            41.0 * 41,
        )
        assert int(((p[0] - 0.45).abs() < 1e-6).sum()) == expect


def test_pixels_equal_to_one_stay_at_one():
    label = _point_label(41, 41, [(20, 20)])
    label[20, 21] = 1.0  # an earlier update that reached 1
    pred = torch.zeros(41, 41)
    pred[20, 20:23] = 0.6
    new = evolve_label(label, pred, [(20, 20)])
    assert new[20, 21] == 1.0 and new[20, 22] == pytest.approx(0.3)
    p = evolve_patches(
        label[None],
        pred[None],
        torch.ones(1, 41, 41, dtype=torch.bool),
        torch.zeros(1, 41, 41, dtype=torch.bool),
        41.0 * 41,
    )
    assert p[0, 20, 21] == 1.0 and p[0, 20, 22] == pytest.approx(0.3)


def test_averaging_and_points_kept_at_one():
    label = _point_label(41, 41, [(20, 20)])
    label[20, 21] = 0.6  # an evolved pixel: part of the component (>= 0.5)
    label[5, 5] = 0.3  # an old label outside every kept blob stays as it is
    pred = torch.zeros(41, 41)
    pred[19:22, 19:23] = 0.8
    pred[20, 20] = 0.1  # the point itself, predicted low
    new = evolve_label(label, pred, [(20, 20)])
    assert new[20, 21] == pytest.approx((0.6 + 0.8) / 2)
    assert new[19, 22] == pytest.approx(0.4)
    assert new[20, 20] == 1.0 and new[5, 5] == pytest.approx(0.3)
    # the component's area (2 px) enters the threshold: T = 0.8 * (0.5 + 0.5 * 0.5 * 2 /
    # (0.0015 * 1681)) = 0.6... < 0.8, so every 0.8 pixel is kept
    assert int((new == 0.4).sum()) == 10


def test_neighbourhood_is_centred_on_the_centroid_and_clipped_at_borders():
    pred = torch.full((50, 50), 0.1)
    pred[0:3, 0:3] = 0.5
    pred[40, 40] = 1.0  # far outside the corner point's neighbourhood: not its maximum
    new = evolve_label(_point_label(50, 50, [(0, 0)]), pred, [(0, 0)], image_area=1e6)
    # max over the clipped neighbourhood rows/cols 0..16 is 0.5: T = 0.25 + tiny
    assert torch.all(new[0:3, 0:3].flatten()[1:] == 0.25)
    assert new[0, 0] == 1.0
    # pixels at 0.1 are below T; nothing beyond column / row 16 can change
    assert torch.all(new[:, 17:] == 0) and torch.all(new[17:, :] == 0)

    # the centroid of an evolved component (floor of the mean) moves the neighbourhood
    label = _point_label(60, 60, [(10, 30)])
    label[30, 11:20] = 0.7  # component x = 10..19: centroid x = floor(14.5) = 14
    pred = torch.zeros(60, 60)
    pred[30, 10:30] = 0.9
    pred[30, 30] = 0.2  # x = 30 = 14 + 16: the neighbourhood's last column, below T
    pred[30, 31] = 0.9  # just outside
    new = evolve_label(label, pred, [(10, 30)], image_area=1e6)
    assert new[30, 30] == 0 and new[30, 31] == 0 and new[30, 29] == pytest.approx(0.45)


def test_patch_form_matches_the_full_map():
    rng = np.random.default_rng(0)
    h, w = 70, 90
    points = [(3, 4), (45, 30), (80, 62), (20, 60)]
    label = _point_label(h, w, points)
    pred = torch.from_numpy(rng.random((h, w)).astype(np.float32)) * 0.3
    for x, y in points:
        y0, x0 = max(y - 3, 0), max(x - 4, 0)
        pred[y0 : y + 4, x0 : x + 3] += 0.6
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(h), indexing='xy'), -1)
    valid = torch.ones(h, w, dtype=torch.bool)
    store = PatchLabelStore(['a'], [np.array(points)], patch_size=49)
    full, patches = label, store.patches.float()
    for _ in range(3):  # grown components must keep agreeing
        full = evolve_label(full, pred, points)
        vals, seen = crop_to_patches(pred, coords, valid, store.points, 49)
        patches = evolve_patches(patches, vals, seen, store.anchors, float(h * w))
        assert torch.allclose(patches_to_crop(patches, store.points, coords, valid), full)
    assert (full > 0).sum() > 4 * 10  # the labels grew


def test_close_points_stay_labelled_in_each_others_patches():
    store = PatchLabelStore(
        ['a', 'b'], [np.array([[10, 10], [13, 11]]), np.zeros((0, 2))], patch_size=9
    )
    assert len(store) == 2 and store.rows('b').numel() == 0
    assert store.patches[0, 4, 4] == 1 and store.patches[0, 5, 7] == 1  # (13, 11) in patch 0
    assert store.patches[1, 3, 1] == 1 and store.patches.sum() == 4
    with pytest.raises(KeyError, match='other training set'):
        store.rows('c')
    with pytest.raises(ValueError, match='twice'):
        PatchLabelStore(['a', 'a'], [np.zeros((0, 2))] * 2)


# --------------------------------------------------------------------------- coordinates


def _sample(h=40, w=50, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.random((h, w, 1)).astype(np.float32) * 255
    mask = (rng.random((h, w)) > 0.7).astype(np.uint8)
    points = np.array([[3, 5], [40, 33], [25, 20], [49, 0]], dtype=np.float32)
    return dict(
        img=img,
        img_shape=(h, w),
        ori_shape=(h, w),
        gt_seg_map=mask,
        seg_fields=['gt_seg_map'],
        gt_points=points,
        stem='s',
    )


@pytest.mark.parametrize('crop', [(24, 32), (48, 60)])  # inside the image / padded around it
def test_coordinates_follow_every_transform(crop):
    orig = _sample()
    h, w = orig['img_shape']
    flips = [None, ('horizontal',), ('vertical',), ('horizontal', 'vertical')]
    for seed, flip, transpose, k in itertools.product(range(2), flips, (False, True), (0, 1, 2, 3)):
        np.random.seed(seed)
        steps = [LoadPixelCoordinates(), TargetAwareRandomCrop(crop, target_prob=0.5)]
        if flip:
            steps.append(RandomFlipIR(prob=1.0, direction=flip))
        if transpose:
            steps.append(RandomTranspose(prob=1.0))
        if k:
            steps.append(RandomRot90(prob=1.0, ks=(k,)))
        res = Compose(steps)(
            {key: (v.copy() if isinstance(v, np.ndarray) else v) for key, v in orig.items()}
        )
        assert res['pixel_coords'].dtype == np.int32
        packed = PackIRInputsWithCoords()(res)
        coords, valid = split_pixel_coords(packed['data_samples'].pixel_coords)
        assert coords.shape[:2] == packed['inputs'].shape[-2:]
        xs, ys = coords[..., 0][valid], coords[..., 1][valid]
        # each valid pixel shows the original pixel its coordinates name, padding is invalid
        img = packed['inputs'][0]
        assert torch.equal(img[valid], torch.from_numpy(orig['img'][..., 0])[ys, xs])
        assert torch.equal(img[~valid], torch.zeros_like(img[~valid]))
        seg = packed['data_samples'].gt_sem_seg.data[0]
        assert torch.equal(seg[valid], torch.from_numpy(orig['gt_seg_map']).long()[ys, xs])
        assert torch.all(seg[~valid] == 255)
        assert valid.sum() == min(crop[0], h) * min(crop[1], w)
        # points of the crop map back to original points
        for x, y in packed['data_samples'].gt_points.long().tolist():
            assert valid[y, x]
            assert coords[y, x].tolist() in orig['gt_points'].astype(int).tolist()
        # patches rendered onto the crop and read back are the stored ones where observed
        store = PatchLabelStore(['s'], [orig['gt_points']], patch_size=9)
        store.patches = torch.rand(store.patches.shape).half()
        crop_label = patches_to_crop(store.patches, store.points, coords, valid)
        back, seen = crop_to_patches(crop_label, coords, valid, store.points, 9)
        far = (store.points[:, None] - store.points[None]).abs().amax(-1)
        isolated = (far + torch.eye(len(far), dtype=torch.long) * 99).amin(1) > 8
        for i in torch.nonzero(isolated).flatten().tolist():  # no overlap with another patch
            assert torch.equal(back[i][seen[i]], store.patches[i].float()[seen[i]])


def test_validity_survives_any_pad_value():
    res = LoadPixelCoordinates()(
        dict(img=np.ones((4, 4, 1), np.float32), img_shape=(4, 4), seg_fields=[])
    )
    for pad in (0, 1, 255, -1):
        np.random.seed(0)
        out = TargetAwareRandomCrop((6, 6), seg_pad_val=pad)(
            {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in res.items()}
        )
        assert int((out['pixel_coords'][..., 2] == VALID_MARK).sum()) == 16


# --------------------------------------------------------------------------- segmentor


def _pipeline_batch(syn_root, model, n=4, seed=0):
    cfg = Config.fromfile(config_path('lesps/lesps_1k_sirst3.py'))
    ds_cfg = use_synthetic(cfg, syn_root).train_dataloader.dataset
    for step in ds_cfg.pipeline:
        if 'crop_size' in step:
            step['crop_size'] = (48, 40)
    dataset = DATASETS.build(ds_cfg)
    np.random.seed(seed)
    # images with targets; RandomFlipIR / RandomTranspose are in the pipeline
    idx = [i for i in range(len(dataset)) if len(dataset.get_data_info(i)['gt_points'])][:n]
    items = [dataset[i] for i in idx]
    batch = dict(
        inputs=[it['inputs'] for it in items], data_samples=[it['data_samples'] for it in items]
    )
    return dataset, model.data_preprocessor(batch, True)


def test_segmentor_labels_never_come_from_masks_and_evolve_onto_targets(syn_root):
    cfg = Config.fromfile(config_path('lesps/lesps_1k_sirst3.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    dataset, data = _pipeline_batch(syn_root, model)
    store = PatchLabelStore.from_dataset(dataset, patch_size=41)
    model.attach_label_store(store)
    inputs, samples = data['inputs'], data['data_samples']
    torch.manual_seed(1)  # the head's dropout
    losses = model.loss(inputs, samples)
    assert 0.0 <= float(losses['decode.label_iou']) <= 1.0
    for s in samples:  # corrupt the masks: the loss must not move
        s.gt_sem_seg.data[:] = 1
    torch.manual_seed(1)
    again = model.loss(inputs, samples)
    loss_keys = [k for k in losses if 'loss' in k]
    assert loss_keys
    for key in loss_keys:
        assert torch.equal(losses[key], again[key]), key
    assert float(again['decode.label_iou']) != float(losses['decode.label_iou'])

    # an oracle prediction (the true mask, as the crop shows it) evolves the labels onto the
    # targets in original coordinates, through whatever flips the pipeline drew
    _, data = _pipeline_batch(syn_root, model)
    inputs, samples = data['inputs'], data['data_samples']
    coords, valid = model._coords(samples, inputs.shape[-2:], inputs.device)
    truth = torch.stack([s.gt_sem_seg.data[0] for s in samples]).float()
    truth[truth == 255] = 0
    for _ in range(2):  # (0 + 1) / 2, then (0.5 + 1) / 2: target pixels reach 0.75
        assert model.evolve(truth, samples, coords, valid) > 0
        store.commit()
    grown = store.patches.float() >= 0.5
    assert grown.sum() > store.anchors.sum()
    for r in torch.nonzero(store.num_updates == 2).flatten().tolist():
        img = int(torch.searchsorted(store.row_start, torch.tensor(r), right=True)) - 1
        info = dataset.get_data_info(img)
        mask = cv2.imread(info['seg_map_path'], cv2.IMREAD_GRAYSCALE) > 127
        x, y = store.points[r].tolist()
        c = store.patch_size // 2
        for dy, dx in torch.nonzero(grown[r]).tolist():
            oy, ox = y + dy - c, x + dx - c
            assert mask[oy, ox] or store.anchors[r, dy, dx], (info['stem'], ox, oy)
    soft = model.crop_labels(samples, coords, valid)  # soft labels, as LESPS trains
    assert soft.is_floating_point() and soft[~valid].eq(255).all()
    assert soft[valid].min() >= 0 and soft[valid].max() <= 1
    assert soft[valid].eq(0.75).sum() > len(samples)
    model.soft_labels = False
    hard = model.crop_labels(samples, coords, valid)
    assert hard.dtype == torch.long and hard[~valid].eq(255).all()
    assert torch.equal(hard[valid], (soft[valid] >= 0.5).long())


def test_a_pass_applies_the_rule_to_whole_image_predictions(syn_root):
    """update='pass': every point's label evolves from the network's eval-mode prediction of
    its whole image, as the reference rule on the full map gives it."""
    cfg = Config.fromfile(config_path('lesps/lesps_1k_sirst3.py'))
    dataset = DATASETS.build(use_synthetic(cfg, syn_root).train_dataloader.dataset)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    hook = LabelEvolutionHook(start_epoch=0, update='pass', infer_window=None)
    hook.store = store = PatchLabelStore.from_dataset(dataset, patch_size=41)
    hook.img_paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    model.attach_label_store(store)
    model.train()
    assert hook.update_pass(model, images_per_chunk=5) == len(store) > 0
    assert model.training  # the pass leaves the model as it found it
    assert (store.num_updates == 1).all()
    assert (store.patches.float() > store.anchors.float()).any()  # labels grew

    model.eval()
    for i in range(len(dataset)):
        rows = store.rows(store.stems[i])
        if not len(rows):
            continue
        img = read_ir_frame(hook.img_paths[i])
        prob = torch.from_numpy(predict_probabilities(model, [img])[0])
        h, w = prob.shape
        points = store.points[rows]
        expected = evolve_label(_point_label(h, w, points.tolist()), prob, points)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
        coords, valid = torch.stack([xs, ys], -1), torch.ones(h, w, dtype=torch.bool)
        got = patches_to_crop(store.patches[rows], points, coords, valid)
        assert torch.allclose(got, expected, atol=1e-3), store.stems[i]  # float16 storage


def test_a_pass_runs_at_the_end_of_each_update_epoch_only(syn_root, tmp_path):
    cfg = _lesps_cfg(syn_root, str(tmp_path / 'w'), iters=12)
    cfg.default_hooks.label_evolution.update(update='pass', infer_window=48)
    runner = Runner.from_cfg(cfg)
    spy = _Spy()
    runner.register_hook(spy)
    runner.train()
    # 6 iterations an epoch, updates in epoch 1: nothing changes during it, every label at its end
    assert spy.seen['flags'] == [False] * 11 + [True]
    assert (runner.model.label_store.num_updates == 1).all()


def _train_from_loss(syn_root, work, start_loss, iters, update='pass', ckpt=None, resume=False):
    cfg = _lesps_cfg(syn_root, work, iters=iters, ckpt=ckpt)
    cfg.default_hooks.label_evolution.update(
        start_epoch=None, start_loss=start_loss, update=update, infer_window=48
    )
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    spy = _Spy()
    runner.register_hook(spy)
    runner.train()
    return runner, spy.seen['flags']


def test_the_loss_can_start_the_updates(syn_root, tmp_path):
    # below any loss: never starts
    runner, flags = _train_from_loss(syn_root, str(tmp_path / 'never'), 1e-9, iters=12)
    assert not any(flags) and runner.model.label_store.num_updates.sum() == 0
    # above any loss: a pass follows epoch 0 (iteration 6), then every epoch
    runner, flags = _train_from_loss(syn_root, str(tmp_path / 'at_once'), 1e9, iters=12)
    assert flags == [False] * 5 + [True] * 7
    assert (runner.model.label_store.num_updates == 2).all()


def test_the_start_found_by_the_loss_survives_a_resume(syn_root, tmp_path):
    work = str(tmp_path / 'w')
    # online: epoch 0's loss starts the updates with epoch 1, after the checkpoint's iteration
    _, flags = _train_from_loss(syn_root, work, 1e9, iters=6, update='online', ckpt=6)
    assert not any(flags)
    saved = torch.load(osp.join(work, 'iter_6.pth'), map_location='cpu', weights_only=True)
    assert saved['lesps_start_epoch'] == 1
    # resumed under a threshold no loss meets: the start comes from the checkpoint
    runner, flags = _train_from_loss(
        syn_root, work, 1e-9, iters=12, update='online', ckpt=6, resume=True
    )
    assert all(flags) and runner.model.label_store.num_updates.sum() > 0


def test_pass_options_are_checked():
    with pytest.raises(ValueError, match='update must be one of'):
        LabelEvolutionHook(start_epoch=0, update='offline')
    with pytest.raises(ValueError, match='must hold a label patch'):
        LabelEvolutionHook(start_epoch=0, update='pass', infer_window=33, patch_size=41)


def test_label_statistics_see_soft_growth_below_one_half():
    store = PatchLabelStore(['a'], [np.array([[10, 10]])], patch_size=5)
    grown = store.anchors.half().clone()
    grown[0, 2, 3] = grown[0, 1, 2] = 0.25  # two neighbours at a quarter
    store.stage(torch.tensor([0]), grown)
    store.commit()
    assert store.label_area().tolist() == [1]  # the binarised view sees only the point
    assert store.label_mass().tolist() == [1.5]

    labels = torch.zeros(1, 4, 4)
    labels[0, 0, 0], labels[0, 0, 1], labels[0, 3, 3] = 1.0, 0.4, 255.0
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    mask[0, 0, :2] = 1
    mask[0, 3, 3] = 1  # ignored by the label: not counted
    sample = SegDataSample(gt_sem_seg=PixelData(data=mask))
    stats = LabelEvolutionSegmentor._label_iou(labels, [sample])
    assert float(stats['label_iou']) == pytest.approx(0.5)
    assert float(stats['label_soft_iou']) == pytest.approx(0.7)
    assert LabelEvolutionSegmentor._label_iou(labels, [SegDataSample()]) == {}
    # the drift monitor reads the same figures, plus the pseudo / true area (1 of 2 px)
    assert label_drift_stats(labels, [sample]) == pytest.approx(
        dict(pseudo_iou=0.5, soft_iou=0.7, area_ratio=0.5)
    )
    assert label_drift_stats(labels, [SegDataSample()]) == {}


# --------------------------------------------------------------------------- training


def test_update_schedule():
    epochs = [e for e in range(12) if is_update_epoch(e, 4, 2)]
    assert epochs == [4, 6, 8, 10]


def test_start_is_an_epoch_a_share_of_the_run_or_a_loss():
    for bad in (dict(), dict(start_epoch=1, start_ratio=0.1), dict(start_ratio=0.1, start_loss=10)):
        with pytest.raises(ValueError, match='exactly one'):
            LabelEvolutionHook(**bad)
    with pytest.raises(ValueError, match='start_ratio'):
        LabelEvolutionHook(start_ratio=1.0)
    with pytest.raises(ValueError, match='start_loss must be > 0'):
        LabelEvolutionHook(start_loss=0)


def _lesps_cfg(syn_root, work, iters, ckpt=None):
    cfg = tiny_config(
        'lesps/lesps_1k_sirst3.py',
        syn_root,
        work,
        iters=iters,
        batch=4,
        val=False,
        checkpoint_interval=ckpt,
    )
    # 24 images / batch 4 = 6 iterations an epoch: updates on iterations 7..12 (1-based)
    cfg.default_hooks.label_evolution.update(start_epoch=1, start_ratio=None, interval=1)
    cfg.optim_wrapper.optimizer.lr = 3e-3
    return cfg


class _Spy(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.seen = {}

    def before_train(self, runner):
        store = runner.model.label_store
        self.seen.update(
            iter=runner.iter, patches=store.patches.clone(), updates=store.num_updates.clone()
        )

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen.setdefault('flags', []).append(
            bool(runner.model.label_store.num_updates.sum() > 0)
        )


def _soft_on_and_off_target(store, syn_root):
    """Mean evolved soft label (points excluded) on true-target and on background pixels of
    the patches."""
    c = store.patch_size // 2
    on = off = n_on = n_off = 0.0
    for r in range(len(store)):
        img = int(torch.searchsorted(store.row_start, torch.tensor(r), right=True)) - 1
        mask = (
            cv2.imread(osp.join(syn_root, 'masks', store.stems[img] + '.png'), cv2.IMREAD_GRAYSCALE)
            > 127
        )
        h, w = mask.shape
        padded = np.zeros((h + 2 * c, w + 2 * c), bool)
        padded[c : c + h, c : c + w] = mask
        x, y = store.points[r].tolist()
        m = torch.from_numpy(padded[y : y + 2 * c + 1, x : x + 2 * c + 1])
        soft = store.patches[r].float() * ~store.anchors[r]
        on, n_on = on + float(soft[m].sum()), n_on + float(m.sum())
        off, n_off = off + float(soft[~m].sum()), n_off + float((~m).sum())
    return on / max(n_on, 1.0), off / max(n_off, 1.0)


@pytest.mark.slow
def test_training_evolves_labels_and_resume_restores_them(syn_root, tmp_path):
    work = str(tmp_path / 'w')
    first = Runner.from_cfg(_lesps_cfg(syn_root, work, iters=10, ckpt=10))
    spy = _Spy()
    first.register_hook(spy)
    first.train()
    assert spy.seen['flags'] == [False] * 6 + [True] * 4  # no update before epoch 1
    store = first.model.label_store
    assert torch.equal(spy.seen['patches'], store.anchors.half())  # started from the points
    changed = (store.patches != store.anchors.half()).flatten(1).any(1)
    assert changed.any() and torch.equal(changed, store.num_updates > 0)

    saved = torch.load(osp.join(work, 'iter_10.pth'), map_location='cpu', weights_only=True)
    assert torch.equal(saved['lesps_labels']['patches'], store.patches)
    assert saved['lesps_labels']['stems'] == store.stems

    cfg = _lesps_cfg(syn_root, work, iters=12, ckpt=10)
    cfg.resume = True
    second = Runner.from_cfg(cfg)
    spy2 = _Spy()
    second.register_hook(spy2)
    second.train()
    assert spy2.seen['iter'] == 10
    assert torch.equal(spy2.seen['patches'], saved['lesps_labels']['patches'])
    assert torch.equal(spy2.seen['updates'], saved['lesps_labels']['num_updates'])
    store = second.model.label_store
    assert store.num_updates.sum() > saved['lesps_labels']['num_updates'].sum()
    # after an epoch of updates every point has evolved, more on its target than around it
    assert (store.num_updates > 0).all()
    on, off = _soft_on_and_off_target(store, syn_root)
    assert on > off > 0
