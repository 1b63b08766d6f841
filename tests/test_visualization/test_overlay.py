"""The detection overlay colours each predicted component by the field's matching rule."""

import numpy as np

from mmgsacp.visualization.overlay import FALSE_ALARM, HIT, MISS, draw_detections


def _square(mask: np.ndarray, row: int, col: int, side: int = 3) -> np.ndarray:
    mask[row : row + side, col : col + side] = True
    return mask


def _blend(colour, gray: int, alpha: float) -> np.ndarray:
    return (alpha * np.array(colour, np.float64) + (1 - alpha) * gray).astype(np.uint8)


def test_hits_false_alarms_and_misses_get_their_colours():
    gray = np.full((32, 32), 40, np.uint8)
    gt = _square(np.zeros((32, 32), bool), 4, 4)  # found by the prediction below
    gt = _square(gt, 24, 24)  # nobody predicts it: a miss
    pred = _square(np.zeros((32, 32), bool), 4, 4)  # the hit
    pred = _square(pred, 4, 24)  # far from every target: a false alarm
    out = draw_detections(gray, pred, gt, alpha=0.5)

    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert (out[4:7, 4:7] == _blend(HIT, 40, 0.5)).all()
    assert (out[4:7, 24:27] == _blend(FALSE_ALARM, 40, 0.5)).all()
    # the missed target is outlined, not filled: its own pixels keep the image
    assert (out[24:27, 24:27] == 40).all()
    ring = np.zeros((32, 32), bool)
    ring[22:29, 22:29] = True
    ring[24:27, 24:27] = False
    assert (out[ring] == MISS).all()
    # nothing else is drawn on
    drawn = ring.copy()
    drawn[4:7, 4:7] = drawn[4:7, 24:27] = True
    assert (out[~drawn] == 40).all()


def test_without_truth_every_prediction_is_drawn_as_a_detection():
    gray = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    pred = _square(_square(np.zeros((16, 16), bool), 1, 1), 10, 10, side=2)
    out = draw_detections(gray, pred, alpha=1.0)
    assert (out[pred] == HIT).all()
    assert (out[~pred] == gray[~pred][:, None]).all()


def test_a_one_pixel_miss_stays_visible():
    gray = np.zeros((9, 9), np.uint8)
    gt = np.zeros((9, 9), bool)
    gt[4, 4] = True
    out = draw_detections(gray, np.zeros((9, 9), bool), gt)
    assert (out[4, 4] == 0).all()
    assert (out[2:7, 2:7][~gt[2:7, 2:7]] == MISS).all()
