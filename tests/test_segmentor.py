"""The point-supervised segmentor: what reaches the head, empty batches, bad points, EMA."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.engine.hooks import ema_update

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


def test_ema_update_maths():
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    teacher = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    t0 = {k: v.clone() for k, v in teacher.state_dict().items()}
    student[1].num_batches_tracked.fill_(7)
    ema_update(teacher, student, 0.9)
    for k, v in teacher.state_dict().items():
        s = student.state_dict()[k]
        if v.dtype.is_floating_point:
            assert torch.allclose(v, 0.9 * t0[k] + 0.1 * s)
        else:
            assert torch.equal(v, s)
    # the teacher holds no gradient path and is not in the student's parameters
    model, _ = _model()
    teacher = model.make_teacher('head')
    assert all(not p.requires_grad for p in teacher.parameters())
    assert not any(p is q for p in model.parameters() for q in teacher.parameters())
    assert not any(k.startswith('_teacher') for k in model.state_dict())


def test_teacher_targets_are_used():
    """With a teacher attached, targets come from the teacher's embedding, not the student's."""
    from mmgsacp.models.decode_heads import stack_points
    model, _ = _model()
    head = model.decode_head
    head.num_updates.fill_(10**6)  # warm-up over: the affinity decides
    teacher = model.make_teacher('head')
    with torch.no_grad():  # make teacher and student disagree
        for p in teacher.convs.parameters():  # the head's features are its embedding
            p.copy_(torch.randn_like(p))
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


@pytest.mark.slow
@pytest.mark.parametrize('rung', ['base', 'ema', 'hbc', 'asg', 'final'])
def test_affinity_embedding_gets_gradient_in_every_rung(rung):
    """The map the affinity is measured on is trained by the losses of every ablation rung."""
    model, _ = _model(f'synthetic/gsacp_{rung}_synthetic.py')
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
    cfg = Config.fromfile(config_path('synthetic/gsacp_final_synthetic.py'))
    cfg.model.decode_head.target_cfg['rule'] = 'v1'
    head = MODELS.build(cfg.model).decode_head
    assert head.embedding_source == 'projection' and head.embed is not None
    assert head.loss_contrast.rule == 'v1'
