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
    ckpt = {'state_dict': {'w': torch.ones(2)},
            'message_hub': {'log_scalars': {'train/loss': buf}, 'runtime_info': {'iter': 3},
                            'resumed_keys': {'train/loss': True}}}
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


def test_drift_statistics_of_the_band_and_the_negatives():
    from mmgsacp.models.losses import HardBackgroundContrastiveLoss
    size, c = 48, 24
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    r2 = (yy - c)**2 + (xx - c)**2
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
    assert stats['region_core_ratio'] == pytest.approx((int(core.sum()) + n_acc) /
                                                       int(core.sum()))
    assert stats['target_as_background'] == pytest.approx(16 / int(truth.sum()))
    assert stats['fp_pixels'] == 16.0
    assert stats['negative_target_share'] == 1.0  # all 8 picks are the missed target's pixels
