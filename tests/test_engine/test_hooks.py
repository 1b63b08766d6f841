"""Hooks' own behaviour: safe checkpoints, drift statistics, the NaN guard's message."""

import io

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

import mmgsacp  # noqa: F401
from mmgsacp.engine.hooks import SafeCheckpointHook, drift_statistics
from mmgsacp.models.pseudo_labels import generate_point_targets


def test_safe_checkpoint_round_trip_loads_with_weights_only():
    buf = HistoryBuffer()
    for v in (1.0, 2.5, 4.0):
        buf.update(v)
    ckpt = {
        'state_dict': {'w': torch.ones(2)},
        'message_hub': {
            'log_scalars': {'train/loss': buf},
            'runtime_info': {'iter': 3},
            'resumed_keys': {'train/loss': True},
        },
    }
    hook = SafeCheckpointHook()
    hook.before_save_checkpoint(None, ckpt)
    stream = io.BytesIO()
    torch.save(ckpt, stream)
    stream.seek(0)
    loaded = torch.load(stream, weights_only=True)  # no unsafe unpickling needed
    hook.after_load_checkpoint(None, loaded)
    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert np.allclose(restored.data[0], buf.data[0])
    assert restored.mean() == pytest.approx(buf.mean())
    # the live buffer in the caller's message hub is untouched by the save
    assert isinstance(buf, HistoryBuffer) and buf.current() == 4.0


def test_drift_statistics_on_a_known_case():
    image = torch.zeros(1, 1, 40, 40)
    image[0, 0, 10:14, 10:14] = 10.0  # a bright 4x4 target
    image += torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(0)) * 0.1
    points = torch.tensor([[0, 11, 11]])
    targets = generate_point_targets(image, None, points, mode='prior', radius=8)
    truth = torch.zeros(1, 40, 40, dtype=torch.long)
    truth[0, 10:14, 10:14] = 1
    stats = drift_statistics(targets, truth)
    assert stats['pseudo_iou'] == pytest.approx(1.0)
    assert stats['area_ratio'] == pytest.approx(1.0)
    assert stats['collapsed'] == 0.0 and stats['edge'] == 0.0
    half = truth.clone()
    half[0, 10:14, 12:14] = 0  # a true mask twice smaller than the pseudo-mask
    stats = drift_statistics(targets, half, student_targets=targets)
    assert stats['pseudo_iou'] == pytest.approx(0.5)
    assert stats['area_ratio'] == pytest.approx(2.0)
    assert stats['agreement'] == pytest.approx(1.0)
    point_only = generate_point_targets(image, None, points, mode='point', radius=8)
    assert drift_statistics(point_only, truth)['collapsed'] == 1.0


# ---------------------------------------------------------------- EMA teacher
def _teacher_model(scope='head', momentum=0.5):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from ..utils import config_path

    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('gsacp/gsacp-final_1k_sirst3.py'))
    cfg.model.teacher = dict(scope=scope, momentum=momentum)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _runner(model, it=0):
    from types import SimpleNamespace

    warnings = []
    logger = SimpleNamespace(warning=warnings.append)
    return SimpleNamespace(model=model, iter=it, logger=logger, warnings=warnings)


def _shift_student(model, by):
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(by)


def test_ema_hook_updates_the_model_teacher_after_each_iteration():
    from mmgsacp.engine.hooks import EMATeacherHook

    model = _teacher_model(momentum=0.5)
    t0 = model.teacher.decode_head.conv_seg.weight.clone()
    _shift_student(model, 1.0)
    EMATeacherHook().after_train_iter(_runner(model, it=0), 0)
    expected = 0.5 * t0 + 0.5 * model.decode_head.conv_seg.weight
    assert torch.allclose(model.teacher.decode_head.conv_seg.weight, expected)
    # a model without a teacher is left alone
    plain = torch.nn.Conv2d(1, 1, 1)
    EMATeacherHook().after_train_iter(_runner(plain), 0)


def test_ema_hook_points_old_options_to_the_model():
    from mmgsacp.engine.hooks import EMATeacherHook

    with pytest.raises(TypeError, match=r'model = dict\(teacher=.*0\.01'):
        EMATeacherHook(momentum=0.99, scope='head')
    with pytest.raises(TypeError, match='unexpected options: interval'):
        EMATeacherHook(interval=2)


def test_validate_with_teacher_swaps_weights_for_the_loop_only():
    from mmgsacp.engine.hooks import EMATeacherHook

    model = _teacher_model(scope='full')
    _shift_student(model, 0.5)
    student = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith('teach')}
    teacher = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    hook, runner = EMATeacherHook(validate_with_teacher=True), _runner(model)
    hook.before_val_epoch(runner)
    for k, v in teacher.items():
        assert torch.equal(model.state_dict()[k], v), k
    hook.after_val_epoch(runner)
    for k, v in student.items():
        assert torch.equal(model.state_dict()[k], v), k
    EMATeacherHook().before_test_epoch(runner)  # default: the student is evaluated
    for k, v in student.items():
        assert torch.equal(model.state_dict()[k], v), k


@pytest.mark.parametrize(
    'saved_scope,model_scope',
    [('head', 'head'), ('full', 'full'), ('head', 'full'), ('full', 'head')],
)
def test_checkpoint_with_top_level_ema_teacher_loads(saved_scope, model_scope):
    """Checkpoints that kept the teacher apart ('ema_teacher' + meta scope) still resume."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model

    from mmgsacp.engine.hooks import EMATeacherHook

    old = _teacher_model()
    _shift_student(old, 0.25)
    student_state = {k: v for k, v in old.state_dict().items() if not k.startswith('teacher.')}
    # the former teacher: its own state dict, the whole segmentor's or the head's
    legacy_teacher = _teacher_model(scope='head')
    legacy_teacher.teacher = None
    _shift_student(legacy_teacher, -0.75)
    legacy = (
        legacy_teacher.state_dict()
        if saved_scope == 'full'
        else legacy_teacher.decode_head.state_dict()
    )
    ckpt = dict(
        state_dict=dict(student_state),
        ema_teacher=legacy,
        meta=dict(iter=4, ema_teacher_scope=saved_scope),
    )

    model = _teacher_model(scope=model_scope)
    EMATeacherHook().after_load_checkpoint(_runner(model), ckpt)
    assert 'ema_teacher' not in ckpt
    _load_checkpoint_to_model(model, ckpt, strict=True)
    for k, v in legacy_teacher.decode_head.state_dict().items():
        assert torch.equal(model.teacher.decode_head.state_dict()[k], v), k
    if model_scope == 'full':
        source = legacy_teacher.backbone if saved_scope == 'full' else old.backbone
        for k, v in source.state_dict().items():
            assert torch.equal(model.teacher.backbone.state_dict()[k], v), k
    for k, v in student_state.items():
        assert torch.equal(model.state_dict()[k], v), k


def test_drift_statistics_of_the_band_and_the_negatives():
    from mmgsacp.models.losses import HardBackgroundContrastiveLoss

    size, c = 48, 24
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    r2 = (yy - c) ** 2 + (xx - c) ** 2
    core, rim = r2 <= 9, (r2 > 9) & (r2 <= 25)
    image = 0.02 * torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(0))
    image[0, 0][core] += 1.0
    image[0, 0][rim] += 0.25
    accepted = rim & (xx < c)  # the band pixels the embedding calls target
    emb = torch.zeros(1, 2, size, size)
    emb[0, 0] = 1.0
    emb[0, :, core | accepted] = torch.tensor([0.0, 1.0]).view(2, 1)
    targets = generate_point_targets(image, emb, torch.tensor([[0, c, c]]))
    truth = torch.zeros(1, size, size, dtype=torch.long)
    truth[0][core | (accepted & (yy < c))] = 1  # half the accepted band is true target
    truth[0, 40:44, 40:44] = 1  # a target the pseudo-mask misses, labelled background
    prob = torch.zeros(1, 1, size, size)
    prob[0, 0, 40:44, 40:44] = 0.9  # ... and predicted: a false positive, chosen as negative
    loss_fn = HardBackgroundContrastiveLoss(num_negatives=8)
    negatives = loss_fn.mine(emb, targets, prob)
    stats = drift_statistics(targets, truth, negatives=negatives)
    n_acc = int(accepted.sum())
    assert stats['band_precision'] == pytest.approx(int((accepted & (yy < c)).sum()) / n_acc)
    assert stats['region_core_ratio'] == pytest.approx((int(core.sum()) + n_acc) / int(core.sum()))
    assert stats['target_as_background'] == pytest.approx(16 / int(truth.sum()))
    assert stats['fp_pixels'] == 16.0
    assert stats['negative_target_share'] == 1.0  # all 8 picks are the missed target's pixels


class _FakeRunner:
    def __init__(self, work_dir):
        self.work_dir = str(work_dir)
        self.iter = 0


def test_invalid_loss_guard_names_first_bad_iteration_and_key(tmp_path):
    """The guard reads its device-side record only every ``interval`` iterations, yet names
    the iteration and the term that went bad first, and stops before a checkpoint."""
    from mmgsacp.engine.hooks import InvalidLossGuardHook
    from mmgsacp.utils.sync_counter import SyncCounter

    hook = InvalidLossGuardHook(interval=4)
    runner = _FakeRunner(tmp_path)
    good = dict(loss=torch.tensor(0.5), loss_bce=torch.tensor(0.2))
    with SyncCounter(device='cpu') as syncs:
        for it in range(3):
            runner.iter = it
            hook.after_train_iter(runner, it, outputs=good)
    assert syncs.total == 0  # nothing read back between two checks
    runner.iter = 3  # iteration 4: read, all finite
    hook.after_train_iter(runner, 3, outputs=good)
    runner.iter = 4  # iteration 5 goes bad, not read yet
    hook.after_train_iter(
        runner, 4, outputs=dict(loss=torch.tensor(float('nan')), loss_bce=torch.tensor(0.2))
    )
    runner.iter = 5
    hook.after_train_iter(
        runner,
        5,
        outputs=dict(loss=torch.tensor(float('inf')), loss_bce=torch.tensor(float('inf'))),
    )
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    with pytest.raises(
        RuntimeError,
        match=r'iteration 5 .*loss=nan .*then also loss_bce'
        r'.*iter_4\.pth',
    ):
        hook.before_save_checkpoint(runner, {})


def test_invalid_loss_guard_interval_one_reads_every_step(tmp_path):
    from mmgsacp.engine.hooks import InvalidLossGuardHook

    hook = InvalidLossGuardHook(interval=1)
    runner = _FakeRunner(tmp_path)
    with pytest.raises(RuntimeError, match='iteration 1 .*loss_x=-inf.*no checkpoint'):
        hook.after_train_iter(runner, 0, outputs=dict(loss_x=torch.tensor(float('-inf'))))
    with pytest.raises(ValueError, match='interval'):
        InvalidLossGuardHook(interval=0)
