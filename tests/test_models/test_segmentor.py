"""The segmentors: what reaches the head, empty batches, bad points, the EMA teacher (scopes,
update rule, freezing, state dict); whole and sliding-window inference."""

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.models.decode_heads import stack_points
from mmgsacp.models.segmentors import IREncoderDecoder
from mmgsacp.models.segmentors.ir_encoder_decoder import slide_windows
from mmgsacp.models.utils import EMATeacher, ema_update

from ..utils import config_path


def _model(rel='gsacp/gsacp-final_1k_sirst3.py'):
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(rel))
    # outside a Runner there is no max_iters for warmup_ratio: the 1k schedule's warm-up in steps
    cfg.model.decode_head.update(warmup_ratio=None, warmup_iters=(100, 400))
    torch.manual_seed(0)
    return MODELS.build(cfg.model), cfg


def _batch(points_per_image, size=48, path='img{}.png'):
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for b, pts in enumerate(points_per_image):
        img = torch.rand(1, size, size, generator=g) * 40 + 80
        mask = torch.zeros(1, size, size, dtype=torch.long)
        for x, y in pts:
            img[0, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] += 120
            mask[0, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = 1
        s = SegDataSample(
            metainfo=dict(img_path=path.format(b), img_shape=(size, size), ori_shape=(size, size))
        )
        s.gt_sem_seg = PixelData(data=mask)
        s.gt_points = torch.tensor(pts, dtype=torch.float32).reshape(-1, 2)
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_head_never_sees_full_masks():
    model, _ = _model()
    seen = []
    real_loss = model.decode_head.loss

    def spy(inputs, samples, *args, **kwargs):
        seen.extend(samples)
        return real_loss(inputs, samples, *args, **kwargs)

    model.decode_head.loss = spy
    data = model.data_preprocessor(_batch([[(10, 12)], [(30, 5), (40, 40)]]), True)
    losses = model.loss(**data)
    assert seen and all('gt_sem_seg' not in s for s in seen)
    assert all('gt_points' in s for s in seen)
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_batch_without_points_trains_background_only():
    model, cfg = _model()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    log = model.train_step(_batch([[], []]), optim)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
    assert int((model.decode_head.last_targets.labels == 1).sum()) == 0


def test_border_and_close_points():
    model, cfg = _model()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    log = model.train_step(_batch([[(0, 0), (47, 47), (3, 2)], [(20, 20), (22, 21)]]), optim)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
    labels = model.decode_head.last_targets.labels
    for b, x, y in [(0, 0, 0), (0, 47, 47), (1, 20, 20), (1, 22, 21)]:
        assert labels[b, y, x] == 1


def test_point_off_image_names_the_sample():
    model, _ = _model()
    data = model.data_preprocessor(_batch([[(10, 10)], [(60, 5)]], path='frame_{}.png'), True)
    with pytest.raises(ValueError, match='frame_1.png'):
        model.loss(**data)


def _with_teacher(**teacher):
    """gsacp_final's model with the given ``model.teacher`` options."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('gsacp/gsacp-final_1k_sirst3.py'))
    cfg.model.teacher = dict(cfg.model.teacher, **teacher)
    # warm-up in steps: these models are not trained by a Runner that records max_iters
    cfg.model.decode_head.update(warmup_ratio=None, warmup_iters=(100, 400))
    torch.manual_seed(0)
    return MODELS.build(cfg.model), cfg


def test_configured_teacher_is_a_full_copy():
    model, cfg = _model()
    assert cfg.model.teacher == dict(scope='full', momentum=0.01)
    assert isinstance(model.teacher, EMATeacher) and model.teacher_scope == 'full'
    assert model.teacher.momentum == 0.01


def test_ema_update_follows_mmengine_convention():
    """momentum is the weight of the new (student) value: t <- (1 - m) * t + m * s."""
    student = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    teacher = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    with torch.no_grad():
        teacher[0].weight.fill_(2.0)
        student[0].weight.fill_(6.0)
        teacher[1].running_var.fill_(1.0)
        student[1].running_var.fill_(3.0)
    student[1].num_batches_tracked.fill_(7)
    ema_update(teacher, student, 0.25)
    assert torch.equal(teacher[0].weight, torch.full_like(teacher[0].weight, 3.0))  # 0.75*2+0.25*6
    assert torch.equal(teacher[1].running_var, torch.full((2,), 1.5))  # float buffers averaged
    assert int(teacher[1].num_batches_tracked) == 7  # counters copied
    ema_update(teacher, student, 1.0)
    assert torch.equal(teacher[0].weight, student[0].weight)


@pytest.mark.parametrize('momentum', [0.0, -0.1, 1.5])
def test_momentum_outside_unit_interval_is_rejected(momentum):
    with pytest.raises(ValueError, match=r'model\.teacher\.momentum must be in \(0, 1\]'):
        _with_teacher(momentum=momentum)


def test_bad_scope_is_rejected():
    with pytest.raises(ValueError, match='model.teacher.scope'):
        _with_teacher(scope='backbone')


def test_model_update_and_begin_iter():
    model, _ = _with_teacher(momentum=0.1, begin_iter=2)
    w_student = model.decode_head.conv_seg.weight
    w_teacher = model.teacher.decode_head.conv_seg.weight
    with torch.no_grad():
        w_student.fill_(1.0)
    model.update_teacher(2)  # iterations 1..begin_iter: exact copy
    assert torch.equal(w_teacher, w_student)
    with torch.no_grad():
        w_student.fill_(3.0)
    model.update_teacher(3)
    assert torch.allclose(w_teacher, torch.full_like(w_teacher, 0.9 * 1.0 + 0.1 * 3.0))
    # the full teacher follows the student's backbone too
    s_state, t_state = model.backbone.state_dict(), model.teacher.backbone.state_dict()
    assert s_state.keys() == t_state.keys()
    assert all(torch.equal(t_state[k], v) for k, v in s_state.items())


def test_scopes_build_the_expected_module_trees():
    full, _ = _with_teacher(scope='full')
    head, _ = _with_teacher(scope='head')
    assert [n for n, _ in full.teacher.named_children()] == ['backbone', 'decode_head']
    assert [n for n, _ in head.teacher.named_children()] == ['decode_head']
    for model in (full, head):
        state = model.state_dict()
        mirrored = {k[len('teacher.') :] for k in state if k.startswith('teacher.')}
        student = {k for k in state if not k.startswith('teacher.')}
        assert mirrored <= student
        assert any(k.startswith('decode_head.') for k in mirrored)
        assert any(k.startswith('backbone.') for k in mirrored) == (model is full)
        # copies, not shared modules
        assert model.teacher.decode_head is not model.decode_head
        assert not any(
            p is q for p in model.teacher.parameters() for q in model.decode_head.parameters()
        )


def test_full_teacher_sees_its_own_backbone_head_teacher_the_students():
    data = None
    for scope in ('full', 'head'):
        model, _ = _with_teacher(scope=scope)
        model.eval()
        if data is None:
            data = model.data_preprocessor(_batch([[(10, 12)]], size=32), True)
        inputs = data['inputs']
        before = model._teacher_outputs(inputs, model.extract_feat(inputs))[0]
        with torch.no_grad():  # move only the student's backbone
            for p in model.backbone.parameters():
                p.add_(torch.randn_like(p) * 0.5)
        after = model._teacher_outputs(inputs, model.extract_feat(inputs))[0]
        assert torch.equal(before, after) == (scope == 'full'), scope


def test_teacher_is_frozen_and_outside_the_optimizer():
    model, cfg = _model()
    model.train()
    assert not model.teacher.training and not model.teacher.decode_head.training
    assert list(model.teacher.parameters()) == []  # its weights are state, not parameters
    teacher = list(model.teacher.state_dict(keep_vars=True).values())
    assert teacher and all(not t.requires_grad for t in teacher)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    in_optim = {id(p) for g in optim.optimizer.param_groups for p in g['params']}
    assert in_optim == {id(p) for p in model.parameters()}
    assert not in_optim & {id(t) for t in teacher}
    t_before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    s_before = {k: v.clone() for k, v in model.decode_head.state_dict().items()}
    model.train_step(_batch([[(10, 12)]], size=32), optim)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, t_before[k]), k  # only update_teacher moves it
    assert any(not torch.equal(v, s_before[k]) for k, v in model.decode_head.state_dict().items())
    assert all(t.grad is None for t in teacher)


def test_teacher_round_trips_through_the_state_dict():
    model, _ = _with_teacher(momentum=0.5)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(1.0)
    model.update_teacher(1)
    state = model.state_dict()
    fresh, _ = _with_teacher(momentum=0.5)
    fresh.load_state_dict(state, strict=True)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(fresh.teacher.state_dict()[k], v), k
    assert not torch.equal(
        fresh.teacher.decode_head.conv_seg.weight, fresh.decode_head.conv_seg.weight
    )


def test_checkpoint_without_teacher_starts_the_teacher_from_the_loaded_student():
    plain, _ = _model('gsacp/gsacp-base_1k_sirst3.py')
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.3)
    model, _ = _model()
    model.load_state_dict(plain.state_dict(), strict=True)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, plain.state_dict()[k]), k
    # and a model without a teacher loads a checkpoint that has one
    plain.load_state_dict(model.state_dict(), strict=True)


def test_teacher_targets_are_used():
    """With a teacher, targets come from the teacher's embedding, not the student's."""
    from mmgsacp.models.decode_heads import stack_points

    model, _ = _with_teacher(scope='head')
    head = model.decode_head
    # with the outer band (the configs leave it out), where the affinity decides most pixels
    head.target_cfg.update(band_steps=2)
    head.num_updates.fill_(10**6)  # warm-up over: the affinity decides
    teacher = model.teacher.decode_head
    with torch.no_grad():  # make teacher and student disagree
        # the head's features are its embedding (the teacher holds its weights as buffers)
        for name, w in teacher.convs.named_buffers():
            if w.ndim == 4:
                w.copy_(torch.randn_like(w))
    data = model.data_preprocessor(_batch([[(10, 12), (30, 30)], [(30, 30)]]), True)
    model.loss(**data)
    got = head.last_targets.labels
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        points = stack_points(data['data_samples'])
        size = data['inputs'].shape[-2:]
        from_teacher = head.make_targets(data['inputs'], teacher.embedding(feats, size), points)
        from_student = head.make_targets(data['inputs'], head.embedding(feats, size), points)
    assert torch.equal(got, from_teacher.labels)
    assert not torch.equal(from_teacher.labels, from_student.labels)


def test_prediction_band_comes_from_the_teachers_probability():
    """band_source='prediction': the band follows the teacher's probability, not the student's."""
    model, _ = _with_teacher(scope='full')
    head = model.decode_head
    head.target_cfg.update(band_steps=2, band_source='prediction', band_tau=(0.5, 0.2))
    head.num_updates.fill_(10**6)
    teacher = model.teacher.decode_head
    with torch.no_grad():  # the teacher sees target everywhere, the student nowhere
        dict(teacher.named_buffers())['conv_seg.bias'].fill_(10.0)
        head.conv_seg.bias.fill_(-10.0)
    data = model.data_preprocessor(_batch([[(10, 12), (30, 30)], [(30, 30)]]), True)
    model.loss(**data)
    with torch.no_grad():
        inputs = data['inputs']
        size = inputs.shape[-2:]
        emb, logits = model.teacher.embedding_and_logits(inputs, model.extract_feat(inputs))
        points = stack_points(data['data_samples'])
        expected = head.make_targets(inputs, emb, points, band_evidence=torch.sigmoid(logits))
        s_emb, s_logits = head.embedding_and_logits(model.extract_feat(inputs), size)
        students = head.make_targets(inputs, emb, points, band_evidence=torch.sigmoid(s_logits))
    assert torch.equal(head.last_targets.labels, expected.labels)
    assert bool(expected.band.any())
    assert not torch.equal(expected.labels, students.labels)


# ---------------------------------------------------------------------------------------------
# Inference: whole, sliding windows, and the switch between them

SEGMENTOR_CONFIGS = (
    'full_sup/full-sup_1k_sirst3.py',
    'gsacp/gsacp-final_1k_sirst3.py',
    'lesps/lesps_40k_sirst3.py',
)


def _eval_model(rel='full_sup/full-sup_1k_sirst3.py', **test_cfg):
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(rel))
    cfg.model.test_cfg = dict(mode='whole', **test_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.eval()
    return model


def _images(batch, h, w, seed=0):
    """Preprocessed-scale inputs with a few bright blobs, so the logits vary over the image."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, h, w, generator=g)
    ys, xs = torch.randint(0, h, (6,), generator=g), torch.randint(0, w, (6,), generator=g)
    for y, xx in zip(ys.tolist(), xs.tolist()):
        x[:, :, max(y - 2, 0) : y + 3, max(xx - 2, 0) : xx + 3] += 3.0
    return x


def _metas(batch, h, w):
    return [
        dict(ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w), padding_size=[0, 0, 0, 0])
        for _ in range(batch)
    ]


def _logits(model, x, **test_cfg):
    model.test_cfg = dict(test_cfg)
    with torch.no_grad():
        return model.inference(x, _metas(x.shape[0], *x.shape[-2:]))


def test_slide_windows_cover_the_image_with_equal_windows():
    boxes = slide_windows((100, 70), (32, 64), (24, 48))
    assert {(y2 - y1, x2 - x1) for y1, y2, x1, x2 in boxes} == {(32, 64)}
    assert [b[0] for b in boxes[::2]] == [0, 24, 48, 68] and {b[3] for b in boxes} == {64, 70}
    cover = torch.zeros(100, 70)
    for y1, y2, x1, x2 in boxes:
        cover[y1:y2, x1:x2] += 1
    assert cover.min() >= 1
    # a side shorter than the crop is taken whole, once
    assert slide_windows((20, 30), (64, 64), (32, 32)) == [(0, 20, 0, 30)]


@pytest.mark.parametrize('rel', SEGMENTOR_CONFIGS)
def test_slide_mode_is_mmseg_slide_inference(rel):
    """mode='slide' gives MMSeg's own slide result, whatever the windows per forward pass."""
    model = _eval_model(rel)
    assert isinstance(model, IREncoderDecoder)
    x = _images(2, 80, 104)
    cfg = dict(mode='slide', crop_size=(48, 64), stride=(32, 40))
    model.test_cfg = Config(cfg)
    with torch.no_grad():
        ref = EncoderDecoder.slide_inference(model, x, _metas(2, 80, 104))
    for per_pass in (1, 3, 64):
        got = _logits(model, x, crop_batch_size=per_pass, **cfg)
        assert got.shape == (2, 1, 80, 104)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-4)


def test_slide_equals_whole_when_one_window_covers_the_image():
    model = _eval_model()
    x = _images(2, 64, 96)
    whole = _logits(model, x, mode='whole')
    slide = _logits(model, x, mode='slide', crop_size=(64, 128), stride=(32, 32))
    # batches of different sizes may round differently: agreement up to float rounding
    torch.testing.assert_close(slide, whole, rtol=1e-5, atol=1e-4)


def test_slide_equals_whole_away_from_window_seams():
    """Where every window covering a pixel also holds its receptive field, the windows see what
    the whole image shows there, so the averaged logits equal the whole-image ones."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('full_sup/full-sup_1k_sirst3.py'))
    # two levels: a receptive field of a few pixels, well inside the 16 px margin below
    cfg.model.backbone.num_stages = 2
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    x = _images(1, 96, 128)
    whole = _logits(model, x, mode='whole')
    slide = _logits(model, x, mode='slide', crop_size=(64, 64), stride=(32, 32))
    # window edges inside the image: rows 32, 64; columns 32, 64, 96
    far = torch.ones(96, 128, dtype=torch.bool)
    for edge in (32, 64):
        far[edge - 16 : edge + 16, :] = False
    for edge in (32, 64, 96):
        far[:, edge - 16 : edge + 16] = False
    assert far.sum() > 500
    torch.testing.assert_close(slide[0, 0][far], whole[0, 0][far], rtol=1e-5, atol=1e-4)
    # the seams themselves do differ: the comparison above is not vacuous
    assert (slide - whole).abs().max() > 1e-3


def test_max_whole_pixels_switches_to_slide_above_the_size():
    windows = dict(crop_size=(32, 32), stride=(24, 24))
    model = _eval_model(**windows)
    auto = dict(mode='whole', max_whole_pixels=64 * 64, **windows)
    small, large = _images(1, 64, 64), _images(1, 64, 96)
    torch.testing.assert_close(
        _logits(model, small, **auto), _logits(model, small, mode='whole'), rtol=0, atol=0
    )
    slide = _logits(model, large, mode='slide', **windows)
    torch.testing.assert_close(_logits(model, large, **auto), slide, rtol=0, atol=0)
    assert not torch.allclose(slide, _logits(model, large, mode='whole'), atol=1e-3)
    model.test_cfg = auto
    assert model.inference_mode((64, 64)) == 'whole'
    assert model.inference_mode((64, 65)) == 'slide'
    # without a limit, whole stays whole at any size; mode='slide' always slides
    model.test_cfg = dict(mode='whole', **windows)
    assert model.inference_mode((4000, 4000)) == 'whole'
    model.test_cfg = dict(mode='slide', **windows)
    assert model.inference_mode((16, 16)) == 'slide'


def test_default_configs_keep_sirst3_frames_whole():
    for rel in SEGMENTOR_CONFIGS:
        model = _eval_model(rel)
        model.test_cfg = Config.fromfile(config_path(rel)).model.test_cfg
        assert model.inference_mode((1024, 1024)) == 'whole', rel
        assert model.inference_mode((1024, 1056)) == 'slide', rel


@pytest.mark.parametrize(
    'test_cfg, match',
    [
        (dict(mode='tiles'), 'test_cfg.mode'),
        (dict(mode='slide', stride=(8, 8)), 'test_cfg.crop_size'),
        (dict(mode='whole', max_whole_pixels=100, crop_size=(8, 8)), 'test_cfg.stride'),
        (dict(mode='slide', crop_size=(8, 8), stride=(4, 9)), 'must not exceed'),
        (dict(mode='slide', crop_size=(0, 8), stride=(4, 4)), 'test_cfg.crop_size'),
        (dict(mode='whole', max_whole_pixels=-1), 'max_whole_pixels'),
        (dict(mode='slide', crop_size=8, stride=4, crop_batch_size=0), 'crop_batch_size'),
    ],
)
def test_bad_test_cfg_names_the_option(test_cfg, match):
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('full_sup/full-sup_1k_sirst3.py'))
    cfg.model.test_cfg = test_cfg
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg.model)
    # also when changed on a built model
    model = _eval_model()
    with pytest.raises(ValueError, match=match):
        _logits(model, _images(1, 16, 16), **test_cfg)


@pytest.mark.slow
@pytest.mark.parametrize('rung', ['base', 'ema', 'hbc', 'asg', 'final'])
def test_affinity_embedding_gets_gradient_in_every_rung(rung):
    """The map the affinity is measured on is trained by the losses of every ablation rung."""
    model, _ = _model(f'gsacp/gsacp-{rung}_1k_sirst3.py')
    head = model.decode_head
    head.num_updates.fill_(10**6)  # warm-up over
    assert head.embedding_source == 'features'
    captured = []

    def keep(module, args, output):
        output.retain_grad()
        captured.append(output)

    handle = head.convs.register_forward_hook(keep)
    data = model.data_preprocessor(_batch([[(10, 12), (30, 30)], [(30, 30)]]), True)
    losses = model.loss(**data)
    handle.remove()
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert captured and captured[0].grad is not None
    assert float(captured[0].grad.abs().sum()) > 0
    # the targets themselves carry no gradient
    assert head.last_targets.labels.grad_fn is None


def test_first_form_is_one_config_line():
    model, _ = _model()
    assert model.decode_head.loss_contrast.rule == 'v2'
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('gsacp/gsacp-final_1k_sirst3.py'))
    cfg.model.decode_head.target_cfg['rule'] = 'v1'
    head = MODELS.build(cfg.model).decode_head
    assert head.embedding_source == 'projection' and head.embed is not None
    assert head.loss_contrast.rule == 'v1'


def test_head_step_count_follows_loads_and_writes_without_reading_each_step():
    """The warm-up's step count lives on the host between steps, yet follows the buffer
    whenever it is written from outside (a resumed state dict, a fill)."""
    from mmgsacp.models.decode_heads import AffinityPropagationHead
    from mmgsacp.utils.sync_counter import SyncCounter

    head = AffinityPropagationHead(
        in_channels=4, channels=4, num_classes=1, out_channels=1, warmup_iters=(2, 12)
    )
    assert head.training_steps() == 0
    state = head.state_dict()
    state['num_updates'] = torch.tensor(7)
    head.load_state_dict(state)
    assert head.training_steps() == 7
    with SyncCounter(device='cpu') as syncs:
        for _ in range(3):
            head._count_step()
            weight = head.affinity_weight()
    assert syncs.total == 0
    assert int(head.num_updates) == 10 and weight == pytest.approx(0.8)
    head.num_updates.fill_(1)
    assert head.affinity_weight() == 0.0


def test_stack_points_checks_the_batch_at_once_and_names_the_sample():
    from mmseg.structures import SegDataSample

    from mmgsacp.models.decode_heads import stack_points

    def sample(points, path):
        s = SegDataSample(metainfo=dict(img_shape=(16, 24), img_path=path))
        s.gt_points = torch.tensor(points, dtype=torch.float32).reshape(-1, 2)
        return s

    good = [
        sample([[1.2, 3.0], [23.0, 15.0]], 'a.png'),
        sample([], 'b.png'),
        sample([[5.0, 6.0]], 'c.png'),
    ]
    assert stack_points(good).tolist() == [[0, 1, 3], [0, 23, 15], [2, 5, 6]]
    bad = good[:2] + [sample([[5.0, 6.0], [24.0, 2.0]], 'c.png')]
    with pytest.raises(ValueError, match=r'x=24, y=2\) of sample 2 \(c\.png\).*16x24'):
        stack_points(bad)
    # host points are checked with host reads, which no step of a GPU run makes
    from mmgsacp.utils.sync_counter import SyncCounter

    with SyncCounter(device='cpu') as syncs:
        stack_points(good)
    assert syncs.total == 0


def test_device_point_check_fails_the_step_without_reading_back():
    """Points on an accelerator are checked by a device-side assertion (CPU tensors stand in
    for the device's here: the assertion then fails at once)."""
    from mmgsacp.models.decode_heads.binary_head import assert_points_inside
    from mmgsacp.utils.sync_counter import SyncCounter

    wh = torch.tensor([[24, 16], [24, 16], [-1, -1]])  # the last image's size is unknown
    with SyncCounter(device='cpu') as syncs:
        assert_points_inside(torch.tensor([[0, 0], [23, 15], [99, 99]]), wh)
    assert syncs.total == 0
    for x, y in ((24, 0), (0, 16), (-1, 3)):
        with pytest.raises(RuntimeError, match='outside its image'):
            assert_points_inside(torch.tensor([[0, 0], [x, y], [5, 5]]), wh)
