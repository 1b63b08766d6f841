"""Packed splits, the in-memory dataset and batched augmentation on the model's device."""

import json
import os.path as osp

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmgsacp.datasets import (
    PackedPointDataset,
    PackedSplitError,
    PointSIRSTDataset,
    load_packed_split,
    pack_split,
)
from mmgsacp.datasets.packed import PACK_FORMAT_VERSION
from mmgsacp.datasets.transforms import (
    LoadIRAnnotations,
    LoadIRImageFromFile,
    PackSampleIndex,
    flip_points,
)
from mmgsacp.models.data_preprocessors import (
    BatchDraws,
    PackedPointDataPreProcessor,
    gather_crops,
    move_points,
)

from ..utils import config_path, run_tool, synthetic_set_fixture, tiny_config

SPLIT = 'img_idx/train_synthetic.txt'
CROP = 32


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


# One size smaller than the crop, so padding is exercised.
syn = synthetic_set_fixture(
    'packed', num_train=12, num_test=2, size=[(40, 56), (24, 20)], seed=3, empty_prob=0.2
)


@pytest.fixture(scope='module')
def packed(syn) -> str:
    out = str(syn.parent / 'train.npz')
    pack_split(str(syn), SPLIT, out, point_type='centroid')
    return out


def _dataset(syn, packed, **kw) -> PackedPointDataset:
    return PackedPointDataset(
        pack_file=packed,
        data_root=str(syn),
        ann_file=SPLIT,
        point_type='centroid',
        pipeline=[PackSampleIndex()],
        **kw,
    )


def _preprocessor(**kw) -> PackedPointDataPreProcessor:
    kw = dict(
        dict(crop_size=CROP, mean=[90.6], std=[59.6], size_divisor=32, pad_val=0, seg_pad_val=255),
        **kw,
    )
    return PackedPointDataPreProcessor(**kw)


def _batch(dataset, indices):
    return pseudo_collate([dataset[i] for i in indices])


# --------------------------------------------------------------------------- packing


def test_pack_round_trip(syn, packed):
    folder = PointSIRSTDataset(
        data_root=str(syn),
        ann_file=SPLIT,
        point_type='centroid',
        serialize_data=False,
        pipeline=[LoadIRImageFromFile(), LoadIRAnnotations(with_mask=True)],
    )
    arrays = load_packed_split(packed)
    assert arrays['images'].dtype == np.uint8 and arrays['masks'].dtype == np.uint8
    assert len(arrays['names']) == len(folder) == 12
    for i in range(len(folder)):
        sample = folder[i]
        off, h, w = arrays['index'][i]
        assert arrays['names'][i] == sample['stem']
        img = arrays['images'][off : off + h * w].reshape(h, w)
        assert np.array_equal(img, sample['img'][..., 0])
        assert np.array_equal(
            arrays['masks'][off : off + h * w].reshape(h, w), sample['gt_seg_map']
        )
        pts = arrays['points'][arrays['points'][:, 0] == i]
        assert np.array_equal(pts[:, 1:], sample['gt_points'])
    assert sum(len(folder[i]['gt_points']) for i in range(len(folder))) == len(arrays['points'])


def test_pack_stores_webp_streams_and_mask_bits(packed, tmp_path):
    with np.load(packed) as raw:
        stored = {k: raw[k] for k in raw.files}
    pixels = int((stored['index'][:, 1] * stored['index'][:, 2]).sum())
    assert stored['image_bytes'].sum() == stored['images'].size
    assert stored['masks'].size == (pixels + 7) // 8
    assert bytes(stored['images'][8:12]) == b'WEBP'  # RIFF....WEBP: the first image's stream
    # a damaged stream is refused with the file's name, never decoded into wrong pixels
    stored['images'] = stored['images'].copy()
    stored['images'][: stored['image_bytes'][0]] = 0
    bad = tmp_path / 'bad.npz'
    np.savez_compressed(bad, **stored)
    with pytest.raises(PackedSplitError, match=r'bad\.npz: image 0 does not decode'):
        load_packed_split(str(bad))
    assert load_packed_split(str(bad), ('masks',))['masks'].size == pixels


def test_pack_tool_writes_and_refuses(syn, tmp_path, capsys):
    out = tmp_path / 'sub' / 'p.npz'
    assert (
        run_tool(
            'dataset_converters/pack_split.py',
            syn,
            '--split',
            SPLIT,
            '--out',
            out,
            '--point-type',
            'coarse',
        )
        == 0
    )
    assert load_packed_split(str(out), ('source',))['source'][2] == 'coarse'
    assert [p.name for p in out.parent.iterdir()] == ['p.npz']  # no temporary file left
    good = out.read_bytes()
    assert (
        run_tool(
            'dataset_converters/pack_split.py', syn, '--split', 'img_idx/nope.txt', '--out', out
        )
        == 2
    )
    assert 'nope.txt' in capsys.readouterr().err
    assert out.read_bytes() == good  # a failed run leaves the good file alone


def test_missing_stale_and_wrong_version_files(syn, packed, tmp_path):
    missing = tmp_path / 'absent.npz'
    with pytest.raises(
        PackedSplitError,
        match=r'absent\.npz does not exist.*pack_split\.py '
        rf'{syn} --split {SPLIT} --point-type centroid --out',
    ):
        _dataset(syn, str(missing))
    with pytest.raises(PackedSplitError, match=r'point_type coarse \(file: centroid\)'):
        PackedPointDataset(
            pack_file=packed, data_root=str(syn), ann_file=SPLIT, point_type='coarse'
        )
    with pytest.raises(PackedSplitError, match='ann_file img_idx/test_synthetic.txt'):
        PackedPointDataset(
            pack_file=packed, data_root=str(syn), ann_file='img_idx/test_synthetic.txt'
        )
    arrays = load_packed_split(packed)
    arrays['version'] = np.int64(0)
    old = tmp_path / 'old.npz'
    np.savez_compressed(old, **arrays)
    with pytest.raises(
        PackedSplitError,
        match=r'old\.npz has format version 0.*reads version '
        rf'{PACK_FORMAT_VERSION}.*pack_split\.py',
    ):
        _dataset(syn, str(old))
    with pytest.raises(PackedSplitError, match='old.npz'):
        _preprocessor(pack_file=str(old))(
            dict(inputs=[torch.tensor(0)], data_samples=[_dataset(syn, packed)[0]['data_samples']]),
            True,
        )


# --------------------------------------------------------------------------- batched ops


def _reference(img, y0, x0, crop, pad, hflip, vflip, transpose):
    """The per-sample pipeline's mapping: crop with padding, flips, then transpose."""
    h, w = img.shape
    out = np.full((crop, crop), pad, dtype=np.int64)
    ys, ye, xs, xe = max(y0, 0), min(y0 + crop, h), max(x0, 0), min(x0 + crop, w)
    if ye > ys and xe > xs:
        out[ys - y0 : ye - y0, xs - x0 : xe - x0] = img[ys:ye, xs:xe]
    if hflip:
        out = out[:, ::-1]
    if vflip:
        out = out[::-1]
    return out.T if transpose else out


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_gather_and_points_follow_the_pixels(data):
    """Crops equal the per-sample mapping; a point on a target stays on it, wherever the crop,
    flips and transpose put it."""
    crop = data.draw(st.integers(3, 9))
    num = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shapes = [(int(rng.integers(1, 12)), int(rng.integers(1, 12))) for _ in range(num)]
    imgs = [rng.integers(0, 256, s).astype(np.uint8) for s in shapes]
    masks = [(rng.random(s) < 0.3).astype(np.uint8) for s in shapes]
    offsets = np.cumsum([0] + [h * w for h, w in shapes])[:-1]
    index = torch.tensor([(o, h, w) for o, (h, w) in zip(offsets, shapes)])
    draws = BatchDraws(
        y0=torch.tensor(
            [int(rng.integers(min(h - crop, 0), max(h - crop, 0) + 1)) for h, _ in shapes]
        ),
        x0=torch.tensor(
            [int(rng.integers(min(w - crop, 0), max(w - crop, 0) + 1)) for _, w in shapes]
        ),
        hflip=torch.tensor(rng.random(num) < 0.5),
        vflip=torch.tensor(rng.random(num) < 0.5),
        transpose=torch.tensor(rng.random(num) < 0.5),
    )
    bank_img = torch.from_numpy(np.concatenate([i.ravel() for i in imgs]))
    bank_mask = torch.from_numpy(np.concatenate([m.ravel() for m in masks]))
    out_img, out_mask = gather_crops((bank_img, bank_mask), (7.0, 255), index, draws, (crop, crop))
    assert out_img.dtype == torch.float32 and out_mask.dtype == torch.int64
    # every pixel of every image as a point
    pts, batch = [], []
    for b, (h, w) in enumerate(shapes):
        ys, xs = np.mgrid[:h, :w]
        pts.append(np.stack([xs.ravel(), ys.ravel()], 1))
        batch += [b] * (h * w)
    moved, keep = move_points(
        torch.tensor(np.concatenate(pts), dtype=torch.float32),
        torch.tensor(batch),
        draws,
        (crop, crop),
    )
    start = 0
    for b, (h, w) in enumerate(shapes):
        args = (
            int(draws.y0[b]),
            int(draws.x0[b]),
            crop,
            None,
            bool(draws.hflip[b]),
            bool(draws.vflip[b]),
            bool(draws.transpose[b]),
        )
        ref_img = _reference(imgs[b], *args[:3], 7, *args[4:])
        ref_mask = _reference(masks[b], *args[:3], 255, *args[4:])
        assert np.array_equal(out_img[b].numpy(), ref_img)
        assert np.array_equal(out_mask[b].numpy(), ref_mask)
        sl = slice(start, start + h * w)
        start += h * w
        src = np.concatenate(pts)[sl]
        # survivors are exactly the pixels inside the window
        inside = (
            (src[:, 0] >= args[1])
            & (src[:, 0] < args[1] + crop)
            & (src[:, 1] >= args[0])
            & (src[:, 1] < args[0] + crop)
        )
        assert np.array_equal(keep[sl].numpy(), inside)
        kept = moved[sl][keep[sl]].long().numpy()
        # each survivor lands on its own pixel: same value in image and mask
        assert np.array_equal(
            out_img[b].numpy()[kept[:, 1], kept[:, 0]], imgs[b][src[inside, 1], src[inside, 0]]
        )
        assert np.array_equal(
            out_mask[b].numpy()[kept[:, 1], kept[:, 0]], masks[b][src[inside, 1], src[inside, 0]]
        )
        # and agrees with the per-sample point mapping
        shifted = (src[inside] - [args[1], args[0]]).astype(np.float32)
        direction = {
            (True, True): 'diagonal',
            (True, False): 'horizontal',
            (False, True): 'vertical',
        }.get(args[4:6])
        if direction:
            shifted = flip_points(shifted, (crop, crop), direction)
        if args[6]:
            shifted = shifted[:, ::-1]
        assert np.array_equal(moved[sl][keep[sl]].numpy(), shifted)


# --------------------------------------------------------------------------- preprocessor


def test_preprocessor_batches_like_the_pipeline(syn, packed):
    dataset = _dataset(syn, packed)
    arrays = load_packed_split(packed)
    pre = _preprocessor(target_prob=1.0, seed=0)
    with_points = [i for i in range(len(dataset)) if dataset.get_data_info(i)['num_points']]
    assert 0 < len(with_points) < len(dataset)  # both kinds in the set
    for _ in range(5):
        out = pre(_batch(dataset, range(len(dataset))), True)
        inputs, samples = out['inputs'], out['data_samples']
        assert inputs.shape == (len(dataset), 1, CROP, CROP) and inputs.dtype == torch.float32
        for i, sample in enumerate(samples):
            assert sample.gt_sem_seg.data.shape == (1, CROP, CROP)
            assert sample.gt_sem_seg.data.dtype == torch.int64
            assert sample.img_shape == (CROP, CROP) and sample.padding_size == [0, 0, 0, 0]
            pts = sample.gt_points
            assert pts.dtype == torch.float32 and pts.shape[1] == 2
            if i in with_points:
                # target_prob=1: the window holds one of the image's points
                assert len(pts) >= 1
            else:
                assert len(pts) == 0
            # the mask under each moved point is the mask under the packed point
            orig = arrays['points'][arrays['points'][:, 0] == i][:, 1:].astype(int)
            off, h, w = arrays['index'][i]
            on_target = arrays['masks'][off + orig[:, 1] * w + orig[:, 0]]
            mask = sample.gt_sem_seg.data[0]
            under = mask[pts[:, 1].long(), pts[:, 0].long()]
            assert set(under.tolist()) <= set(on_target.tolist())
        # padding where a 24x20 image sits inside the 32x32 window
        small = [
            i for i in range(len(dataset)) if dataset.get_data_info(i)['ori_shape'] == (24, 20)
        ]
        assert small and all(
            (samples[i].gt_sem_seg.data == 255).sum() == CROP**2 - 24 * 20 for i in small
        )
        pad = (0 - 90.6) / 59.6
        assert all(
            torch.isclose(inputs[i], torch.tensor(pad)).sum() >= CROP**2 - 24 * 20 for i in small
        )


def test_pack_tool_without_masks(syn, packed, tmp_path):
    out = tmp_path / 'nomask.npz'
    args = ('dataset_converters/pack_split.py', syn, '--split', SPLIT, '--out', out)
    assert run_tool(*args, '--no-masks') == 0
    bare, full = load_packed_split(str(out)), load_packed_split(packed)
    assert bare['masks'].size == 0
    assert np.array_equal(bare['images'], full['images'])
    assert np.array_equal(bare['points'], full['points'])
    # batches of it carry points and no masks
    out_batch = _preprocessor()(_batch(_dataset(syn, str(out)), [0, 1]), True)
    assert all('gt_sem_seg' not in s and 'gt_points' in s for s in out_batch['data_samples'])


def test_preprocessor_is_deterministic_under_a_seed(syn, packed):
    dataset = _dataset(syn, packed)

    def run(seed):
        torch.manual_seed(seed)  # what MMEngine's randomness.seed does
        pre = _preprocessor()
        outs = [pre(_batch(dataset, [0, 3, 5, 7]), True) for _ in range(3)]
        return (
            torch.cat([o['inputs'] for o in outs]),
            [s.gt_points for o in outs for s in o['data_samples']],
        )

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a[0], b[0]) and all(torch.equal(p, q) for p, q in zip(a[1], b[1]))
    assert not torch.equal(a[0], c[0])


def test_preprocessor_checks(syn, packed):
    with pytest.raises(ValueError, match='square'):
        _preprocessor(crop_size=(32, 16))
    _preprocessor(crop_size=(32, 16), transpose_prob=0)
    with pytest.raises(ValueError, match='target_prob'):
        _preprocessor(target_prob=1.5)
    # validation batches (images) go through SegDataPreProcessor unchanged
    img = torch.zeros(1, 24, 40)
    out = _preprocessor()(dict(inputs=[img], data_samples=None), False)
    assert out['inputs'].shape == (1, 1, 24, 40)


# --------------------------------------------------------------------------- configs


def test_packed_configs_match_their_methods():
    packed = Config.fromfile(config_path('gsacp/gsacp-final-packed_1k_sirst3.py'))
    plain = Config.fromfile(config_path('gsacp/gsacp-final_1k_sirst3.py'))
    pre = packed.model.pop('data_preprocessor')
    plain_pre = plain.model.pop('data_preprocessor')
    assert packed.model == plain.model
    assert (
        packed.default_hooks == plain.default_hooks
        and packed.val_dataloader == plain.val_dataloader
        and packed.train_cfg == plain.train_cfg
    )
    # the preprocessor adds the augmentation of the per-sample pipeline to the plain one
    assert {k: v for k, v in pre.items() if k in plain_pre and k != 'type'} == {
        k: v for k, v in plain_pre.items() if k != 'type'
    }
    (crop,) = [
        t for t in plain.train_dataloader.dataset.pipeline if t['type'] == 'TargetAwareRandomCrop'
    ]
    assert tuple(pre.crop_size) == tuple(crop.crop_size) and pre.target_prob == crop.target_prob
    full = Config.fromfile(config_path('full_sup/full-sup-packed_1k_sirst3.py'))
    assert full.model.data_preprocessor == pre
    assert full.train_dataloader.dataset.type == 'PackedPointDataset'


@pytest.mark.slow
def test_packed_config_trains(syn, packed, tmp_path):
    cfg = tiny_config(
        'gsacp/gsacp-final-packed_1k_sirst3.py',
        str(syn),
        str(tmp_path / 'w'),
        iters=3,
        batch=4,
        val=False,
    )
    cfg.train_dataloader.dataset.pack_file = packed
    cfg.model.data_preprocessor.crop_size = (CROP, CROP)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 3
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_3.pth'))
    # the drift monitor scored the step's targets against the packed masks
    lines = [json.loads(line) for line in open(osp.join(cfg.work_dir, 'drift.jsonl'))]
    assert [line['iter'] for line in lines] == [2]
    assert 0 <= lines[0]['pseudo_iou'] <= 1
