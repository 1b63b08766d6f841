"""The point-supervised segmentor: what reaches the head, empty batches, bad points, its
EMA teacher (scopes, update rule, freezing, state dict)."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.models.utils import EMATeacher, ema_update

from .utils import config_path


def _model(rel='synthetic/gsacp_final_synthetic.py'):
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(rel))
    torch.manual_seed(0)
    return MODELS.build(cfg.model), cfg


def _batch(points_per_image, size=48, path='img{}.png'):
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for b, pts in enumerate(points_per_image):
        img = torch.rand(1, size, size, generator=g) * 40 + 80
        mask = torch.zeros(1, size, size, dtype=torch.long)
        for x, y in pts:
            img[0, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] += 120
            mask[0, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 1
        s = SegDataSample(metainfo=dict(img_path=path.format(b), img_shape=(size, size),
                                        ori_shape=(size, size)))
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
    cfg = Config.fromfile(config_path('synthetic/gsacp_final_synthetic.py'))
    cfg.model.teacher = dict(cfg.model.teacher, **teacher)
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
    w_student, w_teacher = model.decode_head.embed.weight, model.teacher.decode_head.embed.weight
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
        mirrored = {k[len('teacher.'):] for k in state if k.startswith('teacher.')}
        student = {k for k in state if not k.startswith('teacher.')}
        assert mirrored <= student
        assert any(k.startswith('decode_head.') for k in mirrored)
        assert any(k.startswith('backbone.') for k in mirrored) == (model is full)
        # copies, not shared modules
        assert model.teacher.decode_head is not model.decode_head
        assert not any(p is q for p in model.teacher.parameters()
                       for q in model.decode_head.parameters())


def test_full_teacher_sees_its_own_backbone_head_teacher_the_students():
    data = None
    for scope in ('full', 'head'):
        model, _ = _with_teacher(scope=scope)
        model.eval()
        if data is None:
            data = model.data_preprocessor(_batch([[(10, 12)]], size=32), True)
        inputs = data['inputs']
        before = model._teacher_embedding(inputs, model.extract_feat(inputs))
        with torch.no_grad():  # move only the student's backbone
            for p in model.backbone.parameters():
                p.add_(torch.randn_like(p) * 0.5)
        after = model._teacher_embedding(inputs, model.extract_feat(inputs))
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
    assert not torch.equal(fresh.teacher.decode_head.embed.weight, fresh.decode_head.embed.weight)


def test_checkpoint_without_teacher_starts_the_teacher_from_the_loaded_student():
    plain, _ = _model('synthetic/gsacp_base_synthetic.py')
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
    head.num_updates.fill_(10**6)  # warm-up over: the affinity decides
    teacher = model.teacher.decode_head
    with torch.no_grad():  # make teacher and student disagree
        teacher.embed.weight.copy_(torch.randn_like(teacher.embed.weight))
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
