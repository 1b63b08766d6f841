"""PointSIRSTDataset on a synthetic set, on bad input, and on the real SIRST3."""

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mmgsacp.datasets import PointSIRSTDataset
from mmgsacp.datasets.masks import MaskValueError
from mmgsacp.datasets.points import centroid_points

from ..utils import synthetic_set_fixture

TRAIN = 'img_idx/train_synthetic.txt'
TEST = 'img_idx/test_synthetic.txt'


syn = synthetic_set_fixture(
    'ds', num_train=16, num_test=4, size=[(48, 64), (64, 48)], seed=1, empty_prob=0.3
)


@pytest.fixture(autouse=True)
def mmseg_scope():
    # Pipelines are built from MMSeg's TRANSFORMS registry, as configs with
    # default_scope='mmseg' do.
    init_default_scope('mmseg')


@pytest.fixture
def syn_copy(syn, tmp_path) -> Path:
    """A private copy to damage."""
    return Path(shutil.copytree(syn, tmp_path / 'set'))


def _points_set(points: np.ndarray) -> set:
    return {tuple(map(int, p)) for p in points}


def test_data_info_contract(syn):
    ds = PointSIRSTDataset(data_root=str(syn), ann_file=TRAIN)
    assert len(ds) == 16
    assert ds.metainfo['classes'] == ('background', 'target')
    assert ds.metainfo['palette'] == [[0, 0, 0], [255, 255, 255]]
    stems = (syn / TRAIN).read_text().split()
    for i, stem in enumerate(stems):
        info = ds.get_data_info(i)
        assert info['stem'] == stem and info['part'] is None
        assert info['img_path'] == str(syn / 'images' / f'{stem}.png')
        assert info['seg_map_path'] == str(syn / 'masks' / f'{stem}.png')
        assert info['reduce_zero_label'] is False and info['seg_fields'] == []
        pts = info['gt_points']
        assert pts.dtype == np.float32 and pts.ndim == 2 and pts.shape[1] == 2
        assert np.array_equal(pts, np.floor(pts))
        mask = cv2.imread(info['seg_map_path'], 0)
        assert _points_set(pts) == _points_set(centroid_points(mask))


def test_point_types(syn):
    kw = dict(data_root=str(syn), ann_file=TRAIN)
    cen = PointSIRSTDataset(point_type='centroid', **kw)
    from_mask = PointSIRSTDataset(point_type='mask', **kw)
    coarse = PointSIRSTDataset(point_type='coarse', **kw)
    none = PointSIRSTDataset(point_type=None, **kw)
    n_empty = 0
    for i in range(len(cen)):
        a, b = cen.get_data_info(i)['gt_points'], from_mask.get_data_info(i)['gt_points']
        c = coarse.get_data_info(i)['gt_points']
        assert np.array_equal(a, b)
        assert len(c) == len(a)
        mask = cv2.imread(cen.get_data_info(i)['seg_map_path'], 0)
        assert all(mask[int(y), int(x)] == 255 for x, y in c)
        assert none.get_data_info(i)['gt_points'].shape == (0, 2)
        n_empty += len(a) == 0
    assert n_empty > 0  # frames without targets are kept
    with pytest.raises(ValueError, match='point_type'):
        PointSIRSTDataset(point_type='clicks', **kw)
    with pytest.raises(ValueError, match='point_size_mismatch'):
        PointSIRSTDataset(point_size_mismatch='ignore', **kw)


def test_custom_point_dirs_and_part_map(syn):
    stems = (syn / TRAIN).read_text().split()
    ds = PointSIRSTDataset(
        data_root=str(syn),
        ann_file=TRAIN,
        point_type='clicks',
        point_dirs={'clicks': 'masks_coarse'},
        part_map={stems[0]: 'A'},
    )
    assert ds.get_data_info(0)['part'] == 'A' and ds.get_data_info(1)['part'] is None


def test_build_from_registry_with_pipeline(syn):
    ds = DATASETS.build(
        dict(
            type='PointSIRSTDataset',
            data_root=str(syn),
            ann_file=TRAIN,
            pipeline=[
                dict(type='LoadIRImageFromFile'),
                dict(type='LoadIRAnnotations'),
                dict(type='TargetAwareRandomCrop', crop_size=(32, 32), target_prob=1.0),
                dict(type='RandomFlipIR'),
                dict(type='RandomTranspose'),
                dict(type='RandomRot90'),
                dict(type='PackIRInputs'),
            ],
        )
    )
    np.random.seed(0)
    for i in range(len(ds)):
        out = ds[i]
        sample = out['data_samples']
        assert out['inputs'].shape == (1, 32, 32) and out['inputs'].dtype == torch.float32
        seg = sample.gt_sem_seg.data
        assert seg.shape == (1, 32, 32) and seg.dtype == torch.int64
        pts = sample.gt_points
        assert pts.dtype == torch.float32 and pts.shape[1] == 2
        had = len(ds.get_data_info(i)['gt_points'])
        assert (len(pts) > 0) == (had > 0)  # target-aware crop keeps at least the chosen one
        for x, y in pts.long().tolist():
            assert seg[0, y, x] != 255  # on image content, never on padding
        assert sample.stem == ds.get_data_info(i)['stem']


def _test_time_dataset(data_root: Path, ann_file: str) -> PointSIRSTDataset:
    """A split as the test configs read it: masks only, no point labels."""
    return PointSIRSTDataset(
        data_root=str(data_root),
        ann_file=ann_file,
        point_type=None,
        test_mode=True,
        pipeline=[
            dict(type='LoadIRImageFromFile'),
            dict(type='LoadIRAnnotations', with_points=False),
            dict(type='PackIRInputs'),
        ],
    )


def test_test_time_dataset(syn):
    ds = _test_time_dataset(syn, TEST)
    out = ds[0]
    sample = out['data_samples']
    assert 'gt_points' not in sample
    h, w = sample.ori_shape
    assert out['inputs'].shape == (1, h, w) and sample.gt_sem_seg.data.shape == (1, h, w)


def test_missing_files_name_stem_file_and_split(syn_copy):
    stems = (syn_copy / TRAIN).read_text().split()
    for folder, point_type, what in (
        ('masks_coarse', 'coarse', 'coarse point map'),
        ('masks', 'centroid', 'mask'),
        ('images', 'centroid', 'image'),
    ):
        (syn_copy / folder / f'{stems[3]}.png').unlink()
        with pytest.raises(FileNotFoundError) as err:
            PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN, point_type=point_type)
        msg = str(err.value)
        assert stems[3] in msg and f'{folder}/{stems[3]}.png' in msg and TRAIN in msg
        assert what in msg


def test_bad_split_files(syn_copy):
    with pytest.raises(FileNotFoundError, match='img_idx/nope.txt'):
        PointSIRSTDataset(data_root=str(syn_copy), ann_file='img_idx/nope.txt')
    (syn_copy / 'img_idx' / 'empty.txt').write_text('\n  \n')
    with pytest.raises(ValueError, match='img_idx/empty.txt.*no images'):
        PointSIRSTDataset(data_root=str(syn_copy), ann_file='img_idx/empty.txt')

    # no split list: every image of the folder, e.g. for evaluating a folder as it is
    whole = PointSIRSTDataset(
        data_root=str(syn_copy), ann_file='', point_type=None, part_map='site'
    )
    stems = sorted(p.stem for p in (syn_copy / 'images').glob('*.png'))
    infos = [whole.get_data_info(i) for i in range(len(whole))]
    assert [d['stem'] for d in infos] == stems
    assert {d['part'] for d in infos} == {'site'}
    empty = syn_copy / 'empty_set'
    (empty / 'images').mkdir(parents=True)
    with pytest.raises(ValueError, match='holds no'):
        PointSIRSTDataset(data_root=str(empty), ann_file='', point_type=None)


def test_unreadable_point_map(syn_copy):
    stem = (syn_copy / TRAIN).read_text().split()[0]
    (syn_copy / 'masks_centroid' / f'{stem}.png').write_bytes(b'not a png')
    with pytest.raises(OSError, match=f'masks_centroid/{stem}.png'):
        PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN)


def test_grey_mask_values(syn_copy):
    stem = (syn_copy / TRAIN).read_text().split()[0]
    h, w = cv2.imread(str(syn_copy / 'images' / f'{stem}.png'), 0).shape
    mask = np.zeros((h, w), np.uint8)
    mask[5:8, 5:8] = 255
    mask[4, 4:9] = 64  # grey boundary: not target
    mask[20:22, 30:33] = 64  # a grey-only blob: no target, no point
    mask[30, 10] = 128
    cv2.imwrite(str(syn_copy / 'masks' / f'{stem}.png'), mask)
    ds = PointSIRSTDataset(
        data_root=str(syn_copy),
        ann_file=TRAIN,
        point_type='mask',
        pipeline=[dict(type='LoadIRImageFromFile'), dict(type='LoadIRAnnotations')],
    )
    assert _points_set(ds.get_data_info(0)['gt_points']) == {(6, 6), (10, 30)}
    seg = ds[0]['gt_seg_map']
    assert seg.dtype == np.uint8 and set(np.unique(seg)) == {0, 1}
    assert seg.sum() == 10 and seg[4, 4:9].sum() == 0


def test_point_map_size_mismatch(syn_copy):
    stems = (syn_copy / TRAIN).read_text().split()
    stem = next(
        s for s in stems if cv2.imread(str(syn_copy / 'masks_centroid' / f'{s}.png'), 0).any()
    )
    path = syn_copy / 'masks_coarse' / f'{stem}.png'
    small = cv2.imread(str(path), 0)
    h, w = small.shape
    ((y, x),) = np.argwhere(small > 127)[:1]
    big = np.zeros((2 * h, 3 * w), np.uint8)
    big[2 * y + 1, 3 * x + 2] = 255  # same place, old larger frame
    cv2.imwrite(str(path), big)
    kw = dict(data_root=str(syn_copy), ann_file=TRAIN, point_type='coarse')
    with pytest.warns(UserWarning, match=f'masks_coarse/{stem}.png') as rec:
        ds = PointSIRSTDataset(point_size_mismatch='rescale', **kw)
    assert 'rescal' in str(rec[0].message)
    pts = ds.get_data_info(stems.index(stem))['gt_points']
    assert (int(x), int(y)) in _points_set(pts)
    with pytest.raises(ValueError, match=f'masks_coarse/{stem}.png'):
        PointSIRSTDataset(point_size_mismatch='error', **kw)


def _as_01(folder: Path) -> None:
    for path in folder.glob('*.png'):
        cv2.imwrite(str(path), (cv2.imread(str(path), 0) > 127).astype(np.uint8))


PIPE = [dict(type='LoadIRImageFromFile'), dict(type='LoadIRAnnotations')]


def test_01_masks_need_mask_scale(syn, syn_copy):
    want = PointSIRSTDataset(data_root=str(syn), ann_file=TRAIN, point_type='mask', pipeline=PIPE)
    _as_01(syn_copy / 'masks')
    # Reading points from a 0/1 mask, or loading it in the pipeline, is refused naming the file
    # and the option instead of giving an image without targets.
    with pytest.raises(MaskValueError, match=r'masks/.*\.png holds only 0 and 1.*mask_scale'):
        PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN, point_type='mask')
    ds = PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN, pipeline=PIPE)
    first_target = next(i for i in range(len(ds)) if len(ds.get_data_info(i)['gt_points']))
    with pytest.raises(MaskValueError, match='mask_scale'):
        ds[first_target]
    for scale in ('01', 'auto'):
        got = PointSIRSTDataset(
            data_root=str(syn_copy),
            ann_file=TRAIN,
            point_type='mask',
            mask_scale=scale,
            pipeline=PIPE,
        )
        n_empty = 0
        for i in range(len(want)):
            a, b = want.get_data_info(i), got.get_data_info(i)
            assert np.array_equal(a['gt_points'], b['gt_points'])
            assert np.array_equal(want[i]['gt_seg_map'], got[i]['gt_seg_map'])
            n_empty += not want[i]['gt_seg_map'].any()
        assert n_empty > 0  # all-zero masks stay valid, empty masks in every mode
    with pytest.raises(ValueError, match='mask_scale'):
        PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN, mask_scale='0-1')


def test_01_point_maps_are_refused(syn_copy):
    _as_01(syn_copy / 'masks_centroid')
    with pytest.raises(MaskValueError, match='masks_centroid/.*only 0 and 1'):
        PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN)
    ds = PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN, mask_scale='auto')
    assert sum(len(ds.get_data_info(i)['gt_points']) for i in range(len(ds))) > 0


def test_check_files_finds_a_corrupt_image_before_training(syn_copy):
    stems = (syn_copy / TRAIN).read_text().split()
    kw = dict(data_root=str(syn_copy), ann_file=TRAIN, check_files=True)
    assert len(PointSIRSTDataset(**kw)) == 16  # a clean split builds
    img = syn_copy / 'images' / f'{stems[5]}.png'
    img.write_bytes(img.read_bytes()[:-30])
    mask = syn_copy / 'masks' / f'{stems[9]}.png'
    cv2.imwrite(str(mask), cv2.imread(str(mask), 0)[:-2])
    # Without the check the dataset builds: the loader would only fail when it reaches them.
    PointSIRSTDataset(data_root=str(syn_copy), ann_file=TRAIN)
    with pytest.raises(ValueError, match='2 problem') as err:
        PointSIRSTDataset(**kw)
    assert f'undecodable: {img}' in str(err.value)
    assert f'size-mismatch: {mask}' in str(err.value)


# --------------------------------------------------------------------------- real SIRST3


@pytest.fixture(scope='module')
def sirst3_train(sirst3_root):
    return PointSIRSTDataset(
        data_root=str(sirst3_root), ann_file='img_idx/train_SIRST3.txt', serialize_data=False
    )


def test_sirst3_train(sirst3_root, sirst3_train):
    ds = sirst3_train
    assert len(ds) == 1676
    parts = [ds.get_data_info(i)['part'] for i in range(len(ds))]
    assert set(parts) == {'NUAA-SIRST', 'NUDT-SIRST', 'IRSTD-1K'}
    for i in range(0, len(ds), 97):
        info = ds.get_data_info(i)
        stem = info['stem']
        expect = (
            'NUAA-SIRST'
            if stem.startswith('Misc_')
            else 'IRSTD-1K'
            if stem.startswith('XDU')
            else 'NUDT-SIRST'
        )
        assert info['part'] == expect
    counts = [len(ds.get_data_info(i)['gt_points']) for i in range(len(ds))]
    assert min(counts) >= 1 and max(counts) <= 8
    # Centroid points sit on their targets for the vast majority (a centroid can fall off a
    # curved target).
    on = total = 0
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        mask = cv2.imread(info['seg_map_path'], 0)
        for x, y in info['gt_points'].astype(int):
            on += mask[y, x] > 127
            total += 1
    assert on / total > 0.97


def test_sirst3_points_per_image(sirst3_root, sirst3_train):
    test = PointSIRSTDataset(data_root=str(sirst3_root), ann_file='img_idx/test_SIRST3.txt')
    counts = [
        len(d.get_data_info(i)['gt_points']) for d in (sirst3_train, test) for i in range(len(d))
    ]
    assert len(counts) == 2755
    assert np.mean(counts) == pytest.approx(1.41, abs=0.01)


def test_sirst3_misc111_coarse_mismatch(sirst3_root, tmp_path):
    split = tmp_path / 'one.txt'
    split.write_text('Misc_111\n')
    kw = dict(data_root=str(sirst3_root), ann_file=str(split), point_type='coarse')
    with pytest.warns(UserWarning, match='masks_coarse/Misc_111.png'):
        ds = PointSIRSTDataset(point_size_mismatch='rescale', **kw)
    pts = ds.get_data_info(0)['gt_points']
    mask = cv2.imread(ds.get_data_info(0)['seg_map_path'], 0)
    assert mask.shape == (220, 325) and pts.shape == (1, 2)
    x, y = pts[0].astype(int)
    assert 0 <= x < 325 and 0 <= y < 220
    assert mask[y, x] > 127  # lands on its target
    with pytest.raises(ValueError, match='masks_coarse/Misc_111.png'):
        PointSIRSTDataset(point_size_mismatch='error', **kw)
    # The centroid map of the same image has the right size: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        PointSIRSTDataset(data_root=str(sirst3_root), ann_file=str(split))


def test_sirst3_test_time(sirst3_root):
    ds = _test_time_dataset(sirst3_root, 'img_idx/test_SIRST3.txt')
    assert len(ds) == 1079
    assert all(ds.get_data_info(i)['gt_points'].shape == (0, 2) for i in range(len(ds)))
    sample = ds[0]['data_samples']
    assert tuple(sample.gt_sem_seg.data.shape[1:]) == tuple(sample.ori_shape)
    assert sample.part in ('NUAA-SIRST', 'NUDT-SIRST', 'IRSTD-1K')
