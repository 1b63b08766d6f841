"""Loading, point-moving augmentations and packing."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from mmseg.structures import SegDataSample
from PIL import Image

from mmgsacp.datasets.transforms import (
    LoadIRAnnotations,
    LoadIRImageFromFile,
    PackIRInputs,
    RandomFlipIR,
    RandomRot90,
    RandomTranspose,
    TargetAwareRandomCrop,
    cuts_near_points,
    flip_points,
    rot90_points,
)


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def _gray(h=6, w=7, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w), dtype=np.uint8)


def _load(path, **kw) -> dict:
    return LoadIRImageFromFile(**kw)(dict(img_path=str(path)))


# --------------------------------------------------------------------------- loading


def test_load_modes(tmp_path):
    g = _gray()
    rgb = np.random.default_rng(1).integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    Image.fromarray(g).save(tmp_path / 'l.png')
    Image.fromarray(np.stack([g] * 3, -1)).save(tmp_path / 'grey_as_rgb.png')
    Image.fromarray(np.dstack([g, g, g, np.full_like(g, 7)])).save(tmp_path / 'rgba.png')
    Image.fromarray(g).convert('P').save(tmp_path / 'p.png')
    Image.fromarray(g).convert('LA').save(tmp_path / 'la.png')
    Image.fromarray(rgb).save(tmp_path / 'rgb.png')
    for name in ('l', 'grey_as_rgb', 'rgba', 'p', 'la'):
        res = _load(tmp_path / f'{name}.png')
        img = res['img']
        assert img.dtype == np.float32 and img.shape == (6, 7, 1), name
        assert np.array_equal(img[..., 0], g.astype(np.float32)), name
        assert res['img_shape'] == (6, 7) and res['ori_shape'] == (6, 7)
    # Colour: ITU-R 601 luma, bit-exact with PIL's convert('L') used by the field's loaders.
    ref = np.asarray(Image.fromarray(rgb).convert('L'), dtype=np.float32)
    assert np.array_equal(_load(tmp_path / 'rgb.png')['img'][..., 0], ref)
    # A colour palette image reads as the luma of its colours.
    Image.fromarray(rgb).quantize(16).save(tmp_path / 'pc.png')
    ref = np.asarray(Image.open(tmp_path / 'pc.png').convert('L'), dtype=np.float32)
    assert np.array_equal(_load(tmp_path / 'pc.png')['img'][..., 0], ref)


def test_load_16bit(tmp_path):
    v = np.array([[0, 257, 1000], [65535, 30000, 514]], np.uint16)
    cv2.imwrite(str(tmp_path / 'i16.png'), v)
    assert Image.open(tmp_path / 'i16.png').mode.startswith('I')
    img = _load(tmp_path / 'i16.png')['img'][..., 0]
    assert np.allclose(img, v * 255.0 / 65535.0, atol=1e-4)
    assert img[0, 1] == pytest.approx(1.0) and img[1, 0] == pytest.approx(255.0)
    mm = _load(tmp_path / 'i16.png', bit16='minmax')['img'][..., 0]
    assert mm.min() == 0 and mm.max() == pytest.approx(255.0)
    assert np.allclose(mm, v / 65535.0 * 255.0, atol=1e-3)  # min 0, max 65535 here
    cv2.imwrite(str(tmp_path / 'flat.png'), np.full((3, 3), 900, np.uint16))
    assert not _load(tmp_path / 'flat.png', bit16='minmax')['img'].any()
    cv2.imwrite(str(tmp_path / 'rgb16.png'), np.dstack([v, v, v]))
    assert np.allclose(_load(tmp_path / 'rgb16.png')['img'][..., 0], v * 255.0 / 65535.0, atol=1e-3)
    with pytest.raises(ValueError, match='bit16'):
        LoadIRImageFromFile(bit16='clip')


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'\x89PNG garbage')
    with pytest.raises(OSError, match='broken.png'):
        _load(bad)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        _load(tmp_path / 'missing.png')


def test_load_annotations(tmp_path):
    mask = np.zeros((6, 7), np.uint8)
    mask[1:3, 1:3] = 255
    mask[4, :] = 64
    mask[5, 6] = 128
    cv2.imwrite(str(tmp_path / 'm.png'), mask)
    cv2.imwrite(str(tmp_path / 'i.png'), _gray())
    pts = np.array([[1, 1], [6, 5]], np.float32)
    res = _load(tmp_path / 'i.png')
    res.update(seg_map_path=str(tmp_path / 'm.png'), gt_points=pts, seg_fields=[])
    res = LoadIRAnnotations()(res)
    seg = res['gt_seg_map']
    assert seg.dtype == np.uint8 and seg.sum() == 5 and seg[4].sum() == 0 and seg[5, 6] == 1
    assert res['seg_fields'] == ['gt_seg_map']
    assert np.array_equal(res['gt_points'], pts) and res['gt_points'] is not pts
    res = LoadIRAnnotations()(res)
    assert res['seg_fields'] == ['gt_seg_map']

    res = LoadIRAnnotations(with_points=False)(dict(res))
    assert 'gt_points' not in res
    res = LoadIRAnnotations(with_mask=False)(dict(img_shape=(6, 7), img_path='x'))
    assert res['gt_points'].shape == (0, 2) and 'gt_seg_map' not in res

    for bad in ([7, 0], [0, 6], [-1, 2]):
        with pytest.raises(ValueError, match=r'sample\.png.*outside'):
            LoadIRAnnotations(with_mask=False)(
                dict(img_path='sample.png', img_shape=(6, 7), gt_points=np.array([bad]))
            )

    cv2.imwrite(str(tmp_path / 'm_big.png'), np.zeros((8, 7), np.uint8))
    with pytest.raises(ValueError, match='m_big.png'):
        LoadIRAnnotations()(
            dict(img_path='i.png', img_shape=(6, 7), seg_map_path=str(tmp_path / 'm_big.png'))
        )


# --------------------------------------------------------------------------- geometry


def _sample(h, w, points, mask=None):
    img = (np.arange(h * w, dtype=np.float32) + 1).reshape(h, w, 1)
    mask = np.zeros((h, w), np.uint8) if mask is None else mask
    return dict(
        img=img,
        gt_seg_map=mask,
        seg_fields=['gt_seg_map'],
        img_shape=(h, w),
        gt_points=np.asarray(points, np.float32).reshape(-1, 2),
    )


def test_point_maps_match_numpy():
    h, w = 5, 8
    pts = np.array([[0, 0], [7, 1], [3, 4]], np.float32)
    grid = np.zeros((h, w), int)
    for i, (x, y) in enumerate(pts.astype(int)):
        grid[y, x] = i + 1
    for direction, arr in (
        ('horizontal', grid[:, ::-1]),
        ('vertical', grid[::-1]),
        ('diagonal', grid[::-1, ::-1]),
    ):
        for i, (x, y) in enumerate(flip_points(pts, (h, w), direction).astype(int)):
            assert arr[y, x] == i + 1
    for k in range(5):
        arr = np.rot90(grid, k)
        for i, (x, y) in enumerate(rot90_points(pts, (h, w), k).astype(int)):
            assert arr[y, x] == i + 1


def test_flip_transpose_rot_with_prob_one():
    res = _sample(4, 6, [[5, 0]])
    res = RandomFlipIR(prob=1.0, direction='horizontal')(res)
    assert res['flip'] and res['flip_direction'] == 'horizontal'
    assert res['gt_points'].tolist() == [[0, 0]]
    res = RandomFlipIR(prob=1.0)(res)
    assert res['flip_direction'] == 'diagonal' and res['gt_points'].tolist() == [[5, 3]]
    res = RandomTranspose(prob=1.0)(res)
    assert res['transpose'] and res['img_shape'] == (6, 4)
    assert res['gt_points'].tolist() == [[3, 5]]
    res = RandomRot90(prob=1.0, ks=[1])(res)
    assert res['rot90'] == 1 and res['img_shape'] == (4, 6)
    assert res['img'].flags.c_contiguous and res['gt_seg_map'].flags.c_contiguous
    res = RandomFlipIR(prob=0.0)(res)
    assert res['flip'] is False and res['flip_direction'] is None


def test_crop_pads_small_images():
    np.random.seed(0)
    mask = np.zeros((5, 4), np.uint8)
    mask[2, 1] = 1
    for _ in range(10):
        res = TargetAwareRandomCrop((8, 9), target_prob=0.5)(_sample(5, 4, [[1, 2]], mask))
        img, seg = res['img'][..., 0], res['gt_seg_map']
        assert img.shape == (8, 9) and seg.shape == (8, 9) and res['img_shape'] == (8, 9)
        assert (img > 0).sum() == 20  # the whole image is inside
        assert np.array_equal(img == 0, seg == 255)  # padding: img 0, seg ignore
        ((x, y),) = res['gt_points'].astype(int)
        assert img[y, x] == 10 and seg[y, x] == 1  # pixel (row 2, col 1) of a 4-wide image


def test_crop_target_aware_and_uniform():
    np.random.seed(1)
    h, w = 64, 64
    mask = np.zeros((h, w), np.uint8)
    mask[60:62, 2:4] = 1
    mask[5, 50] = 1
    hits = 0
    for _ in range(50):
        res = TargetAwareRandomCrop(16, target_prob=1.0)(_sample(h, w, [[2, 60], [50, 5]], mask))
        assert len(res['gt_points']) >= 1
        # Without points the crop finds targets through the mask components.
        res = TargetAwareRandomCrop(16, target_prob=1.0)(_sample(h, w, [], mask))
        assert res['gt_seg_map'].any() and res['gt_points'].shape == (0, 2)
        res = TargetAwareRandomCrop(16, target_prob=0.0)(_sample(h, w, [[2, 60], [50, 5]], mask))
        hits += len(res['gt_points'])
    assert hits < 15  # uniform crops mostly miss two single pixels
    with pytest.raises(ValueError):
        TargetAwareRandomCrop((0, 4))


def test_cuts_near_points_by_hand():
    pts = np.array([[10, 10]], np.float32)  # (x, y)
    # 8 x 8 windows [y0, y0 + 8) x [x0, x0 + 8): holding the point; 1, 3 and 4 rows below it;
    # 1 column right of it; 3 columns right (row inside); 3 rows and 3 columns (diagonal).
    y0 = np.array([6, 11, 13, 14, 6, 3, 0])
    x0 = np.array([6, 6, 6, 6, 11, 0, 0])
    assert cuts_near_points(pts, y0, x0, (8, 8), margin=3).tolist() == [
        False,
        True,
        True,
        False,
        True,
        True,
        True,
    ]
    assert cuts_near_points(pts, y0, x0, (8, 8), margin=2).tolist() == [
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]


def test_crop_point_margin_avoids_cut_targets():
    # Two 3 x 3 targets 20 px apart on a row; 24-px crops around one of them.
    h, w = 40, 80
    mask = np.zeros((h, w), np.uint8)
    points = [[20, 20], [40, 20]]
    for x, y in points:
        mask[y - 1 : y + 2, x - 1 : x + 2] = 1

    def unpointed_pixels(crop):
        res = crop(_sample(h, w, points, mask))
        num, labels = cv2.connectedComponents((res['gt_seg_map'] == 1).astype(np.uint8))
        pointed = {labels[int(y), int(x)] for x, y in res['gt_points']}
        return sum(int((labels == c).sum()) for c in range(1, num) if c not in pointed)

    np.random.seed(0)
    plain = sum(unpointed_pixels(TargetAwareRandomCrop(24, target_prob=1.0)) for _ in range(200))
    np.random.seed(0)
    margin = sum(
        unpointed_pixels(TargetAwareRandomCrop(24, target_prob=1.0, point_margin=2))
        for _ in range(200)
    )
    assert plain > 0 and margin == 0
    # Off by default; a bad option is named.
    assert TargetAwareRandomCrop(24).point_margin == 0
    with pytest.raises(ValueError, match='point_margin'):
        TargetAwareRandomCrop(24, point_margin=-1)


# --------------------------------------------------------------------------- property


@st.composite
def scenes(draw):
    h = draw(st.integers(3, 40))
    w = draw(st.integers(3, 40))
    mask = np.zeros((h, w), np.uint8)
    points = []
    for _ in range(draw(st.integers(0, 4))):
        bh, bw = draw(st.integers(1, min(6, h))), draw(st.integers(1, min(6, w)))
        y0, x0 = draw(st.integers(0, h - bh)), draw(st.integers(0, w - bw))
        mask[y0 : y0 + bh, x0 : x0 + bw] = 1
        points.append((x0 + draw(st.integers(0, bw - 1)), y0 + draw(st.integers(0, bh - 1))))
    steps = draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.just('crop'),
                    st.integers(1, 48),
                    st.integers(1, 48),
                    st.sampled_from([0.0, 0.5, 1.0]),
                ),
                st.tuples(
                    st.just('flip'),
                    st.sampled_from([0.5, 1.0]),
                    st.sampled_from([('horizontal',), ('vertical',), ('horizontal', 'vertical')]),
                ),
                st.tuples(st.just('transpose'), st.sampled_from([0.5, 1.0])),
                st.tuples(st.just('rot'), st.sampled_from([0.5, 1.0])),
            ),
            max_size=6,
        )
    )
    return mask, np.array(points, np.float32).reshape(-1, 2), steps, draw(st.integers(0, 2**31))


def _build(step):
    kind = step[0]
    if kind == 'crop':
        return TargetAwareRandomCrop((step[1], step[2]), target_prob=step[3])
    if kind == 'flip':
        return RandomFlipIR(prob=step[1], direction=step[2])
    if kind == 'transpose':
        return RandomTranspose(prob=step[1])
    return RandomRot90(prob=step[1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_points_follow_pixels(scene):
    mask, points, steps, seed = scene
    h, w = mask.shape
    np.random.seed(seed)
    res = _sample(h, w, points, mask.copy())
    # Unique pixel values (0 only for padding) identify where every pixel went.
    origin = {float(v): (i // w, i % w) for i, v in enumerate(res['img'].ravel())}
    value_of_point = [float(res['img'][int(y), int(x), 0]) for x, y in points]
    had_points = len(points) > 0
    for step in steps:
        res = _build(step)(res)
        if step[0] == 'crop' and step[3] == 1.0 and had_points:
            assert len(res['gt_points']) >= 1  # the chosen target is kept
        had_points = len(res['gt_points']) > 0
    img, seg, pts = res['img'][..., 0], res['gt_seg_map'], res['gt_points']
    assert img.shape == seg.shape == tuple(res['img_shape'])
    assert pts.dtype == np.float32 and pts.shape[1] == 2
    # Every pixel carries its own mask label; padding is img 0 / seg 255.
    for (r, c), v in np.ndenumerate(img):
        assert seg[r, c] == (255 if v == 0 else mask[origin[float(v)]])
    # Every point sits on its own original pixel, hence on its target.
    kept = [float(img[int(y), int(x)]) for x, y in pts]
    for x, y in pts.astype(int):
        assert 0 <= x < img.shape[1] and 0 <= y < img.shape[0]
        assert seg[y, x] == 1
    assert sorted(kept) == sorted(v for v in value_of_point if v in set(img.ravel().tolist()))

    packed = PackIRInputs()(res)
    assert packed['inputs'].shape == (1,) + img.shape and packed['inputs'].is_contiguous()
    assert torch.equal(packed['inputs'][0], torch.from_numpy(img))
    assert torch.equal(packed['data_samples'].gt_points, torch.tensor(pts))


# --------------------------------------------------------------------------- packing


def test_pack_contract():
    res = _sample(5, 6, [[1, 2]])
    res['gt_seg_map'][2, 1] = 1
    res.update(
        img_path='a/x.png',
        seg_map_path='m/x.png',
        ori_shape=(5, 6),
        stem='x',
        part='NUAA-SIRST',
        reduce_zero_label=False,
    )
    res = RandomRot90(prob=1.0, ks=[3])(RandomFlipIR(prob=1.0)(res))
    out = PackIRInputs()(res)
    inputs, ds = out['inputs'], out['data_samples']
    assert isinstance(ds, SegDataSample)
    assert inputs.dtype == torch.float32 and inputs.shape == (1, 6, 5) and inputs.is_contiguous()
    assert ds.gt_sem_seg.data.dtype == torch.int64 and ds.gt_sem_seg.data.shape == (1, 6, 5)
    assert ds.gt_points.dtype == torch.float32 and ds.gt_points.shape == (1, 2)
    x, y = ds.gt_points[0].long()
    assert ds.gt_sem_seg.data[0, y, x] == 1
    meta = ds.metainfo
    # every default meta key the sample holds is packed, and nothing else (no RandomTranspose
    # ran, so no 'transpose')
    assert set(meta) == set(PackIRInputs().meta_keys) - {'transpose'}
    assert meta['stem'] == 'x' and meta['part'] == 'NUAA-SIRST' and meta['flip']
    assert meta['img_shape'] == (6, 5) and meta['ori_shape'] == (5, 6) and meta['rot90'] == 3
    empty = PackIRInputs()(
        dict(img=np.zeros((3, 4), np.float32), gt_points=np.zeros((0, 2), np.float32))
    )
    assert empty['inputs'].shape == (1, 3, 4)
    assert empty['data_samples'].gt_points.shape == (0, 2)
    assert 'gt_sem_seg' not in empty['data_samples']


def test_pack_refuses_a_point_outside_its_image_and_names_the_file():
    img = np.zeros((3, 4), np.float32)
    edge = np.array([[3.0, 2.0], [0.0, 0.0]], np.float32)  # the last pixel of a 3x4 image
    assert PackIRInputs()(dict(img=img, gt_points=edge))['data_samples'].gt_points.shape == (2, 2)
    for outside in ([3.6, 1.0], [1.0, 3.0], [-0.7, 1.0]):  # as training rounds them
        with pytest.raises(ValueError, match=r'of a/x\.png lies outside its 3x4 image'):
            PackIRInputs()(
                dict(img=img, img_path='a/x.png', gt_points=np.array([[0, 0], outside], np.float32))
            )


def test_config_pipelines_on_real_files(tmp_path, repo_root: Path):
    from mmengine.config import Config

    cfg = Config.fromfile(str(repo_root / 'configs' / '_base_' / 'datasets' / 'sirst3.py'))
    h, w = 20, 30
    g = _gray(h, w)
    mask = np.zeros((h, w), np.uint8)
    mask[10:13, 20:22] = 255
    cv2.imwrite(str(tmp_path / 'i.png'), g)
    cv2.imwrite(str(tmp_path / 'm.png'), mask)
    info = dict(
        img_path=str(tmp_path / 'i.png'),
        seg_map_path=str(tmp_path / 'm.png'),
        stem='i',
        part=None,
        gt_points=np.array([[20, 11]], np.float32),
        reduce_zero_label=False,
        seg_fields=[],
    )
    np.random.seed(0)
    train = Compose(cfg.train_pipeline)(dict(info, seg_fields=[]))
    ch, cw = cfg.crop_size
    assert train['inputs'].shape[0] == 1 and train['inputs'].shape[1:].numel() == ch * cw
    x, y = train['data_samples'].gt_points[0].long()
    assert train['data_samples'].gt_sem_seg.data[0, y, x] == 1
    assert train['inputs'][0, y, x] == float(g[11, 20])
    test = Compose(cfg.test_pipeline)(dict(info, seg_fields=[], gt_points=np.zeros((0, 2))))
    assert test['inputs'].shape == (1, h, w)
    assert torch.equal(test['inputs'][0], torch.from_numpy(g.astype(np.float32)))
