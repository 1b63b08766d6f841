"""Inference on raw frames (mmgsacp.apis) and tools/infer.py, against tools/test.py."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS

from mmgsacp.apis import (
    Frame,
    find_detections,
    hook_configs,
    image_loader_from_config,
    list_images,
    load_frames,
    load_model,
    predict_probabilities,
    read_ir_frame,
    run_on_frames,
)
from mmgsacp.datasets.synthetic import make_synthetic_dataset
from mmgsacp.evaluation.functional import label_components

from ..utils import REPO_ROOT, load_module, run_python_script, tiny_config

TOOLS = Path(REPO_ROOT) / 'tools'


def _load_tool(name: str):
    return load_module(TOOLS / f'{name}.py', f'_{name}_tool')


infer_tool = _load_tool('infer')


def run_tool(name: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return run_python_script(TOOLS / f'{name}.py', *args, cwd=cwd, timeout=180, env=env)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A full-supervision model trained a few iterations on a 64x64 synthetic set."""
    root = tmp_path_factory.mktemp('infer')
    data = root / 'syn'
    make_synthetic_dataset(str(data), num_train=8, num_test=6, size=(64, 64), seed=0)
    cfg = tiny_config(
        'full_sup/full-sup_1k_sirst3.py',
        str(data),
        str(root / 'work'),
        iters=20,
        batch=4,
        val=False,
    )
    cfg.optim_wrapper.optimizer.lr = 1e-2
    Runner.from_cfg(cfg).train()
    config = root / 'config.py'
    cfg.dump(str(config))
    return dict(root=root, data=data, config=config, ckpt=root / 'work' / 'iter_20.pth')


@pytest.fixture(scope='module')
def model(trained):
    return load_model(trained['config'], trained['ckpt'], 'cpu')


def upper_tail_threshold(probs, tail: float = 0.02) -> float:
    """A float32 threshold with about ``tail`` of the distinct probabilities above it.

    A barely trained model outputs probabilities near 0.5 but below it, so 0.5 finds nothing.
    Comparisons against this threshold need no margin: ``tools/infer.py`` (one frame per
    forward pass) and ``tools/test.py`` compute the same float32 probabilities and compare
    them with the same float32 threshold.
    """
    values = np.unique(np.concatenate([p.ravel() for p in probs]))
    assert values.size > 1, 'the model gives every pixel the same probability'
    return float(values[min(int((1 - tail) * values.size), values.size - 2)])


def read_detections(path: Path):
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    by_frame = defaultdict(list)
    for r in rows:
        by_frame[r['frame']].append(r)
    return rows, by_frame


# ---------------------------------------------------------------------------------------------
# Library


def test_find_detections_describes_components():
    prob = np.zeros((10, 12), np.float32)
    prob[1:3, 8:11] = 0.7
    prob[2, 9] = 0.95
    prob[6, 1] = 0.6
    prob[7, 2] = 0.8  # diagonal neighbour: same 8-connected component
    prob[5, 5] = 0.5  # not > 0.5
    mask, dets = find_detections(prob, 0.5)
    assert mask.sum() == 8
    assert [(d.target_id, d.area) for d in dets] == [(1, 6), (2, 2)]
    assert (dets[0].centroid_x, dets[0].centroid_y) == (9.0, 1.5)
    assert (dets[1].centroid_x, dets[1].centroid_y) == (1.5, 6.5)
    assert dets[0].peak_score == pytest.approx(0.95) and dets[1].peak_score == pytest.approx(0.8)
    assert find_detections(np.zeros((4, 4), np.float32))[1] == []


def test_load_frames_reads_sorted_images_and_flags_bad_ones(tmp_path):
    grey = (np.arange(48 * 40).reshape(48, 40) % 251).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / 'b.png'), grey)
    assert cv2.imwrite(str(tmp_path / 'a.tif'), grey.astype(np.uint16) * 257)
    assert cv2.imwrite(str(tmp_path / 'c.bmp'), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    (tmp_path / 'd.png').write_bytes(b'not an image')
    (tmp_path / 'notes.txt').write_text('ignored')
    frames = list(load_frames(tmp_path))
    assert [f.name for f in frames] == ['a', 'b', 'c', 'd']
    for f in frames[:3]:
        assert f.error is None and f.image.dtype == np.float32
        np.testing.assert_allclose(f.image, grey, atol=1e-3)
    assert frames[3].image is None and 'decode' in frames[3].error
    (tmp_path / 'b.bmp').write_bytes(b'')
    with pytest.raises(ValueError, match='share a stem'):
        list_images(tmp_path)


def test_image_loader_follows_the_test_pipeline():
    step = dict(type='LoadIRImageFromFile', bit16='minmax')
    cfg = Config(
        dict(
            test_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[dict(pipeline=[step, dict(type='PackIRInputs')])],
                )
            )
        )
    )
    assert image_loader_from_config(cfg).bit16 == 'minmax'
    assert image_loader_from_config(Config(dict())).bit16 == 'scale'


@pytest.mark.slow
def test_run_on_frames_keeps_order_sizes_and_skips(model, trained):
    loader = image_loader_from_config(model.cfg)
    imgs = [f.image for f in load_frames(trained['data'] / 'images', loader)][:3]
    imgs.insert(1, imgs[0][5:53, 3:43].copy())  # 48x40: its own size group
    frames = [Frame(f'f{i}', '', img) for i, img in enumerate(imgs)]
    frames.insert(2, Frame('bad', '', None, 'broken'))
    out = list(run_on_frames(model, frames, batch_size=3))
    assert [f.name for f, _ in out] == ['f0', 'f1', 'bad', 'f2', 'f3']
    assert out[2][1] is None
    for frame, prob in out[:2] + out[3:]:
        assert prob.shape == frame.image.shape and prob.dtype == np.float32
        single = predict_probabilities(model, [frame.image])[0]
        np.testing.assert_allclose(prob, single, atol=1e-6)


@pytest.mark.slow
def test_large_frame_runs_in_windows(monkeypatch):
    """Above the config's max_whole_pixels a frame goes through slide inference: the network
    only ever sees window-sized batches, and the frame still comes back whole."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(os.path.join(REPO_ROOT, 'configs', 'full_sup', 'full-sup_1k_sirst3.py'))
    test_cfg = cfg.model.test_cfg
    assert test_cfg.mode == 'whole' and 2000 * 2000 > test_cfg.max_whole_pixels
    # a narrow network: the windows matter here, not the features
    cfg.model.backbone.base_channels = 4
    cfg.model.decode_head.update(in_channels=4, channels=4)
    torch.manual_seed(0)
    net = MODELS.build(cfg.model).eval()
    seen = []
    encode_decode = net.encode_decode

    def spy(inputs, metas):
        seen.append(tuple(inputs.shape))
        return encode_decode(inputs, metas)

    monkeypatch.setattr(net, 'encode_decode', spy)
    frame = np.random.default_rng(0).uniform(0, 255, (2000, 2000)).astype(np.float32)
    [(_, prob)] = list(run_on_frames(net, [Frame('big', '', frame)]))
    assert prob.shape == (2000, 2000) and prob.dtype == np.float32
    assert np.isfinite(prob).all() and 0.0 <= prob.min() and prob.max() <= 1.0
    crop_h, crop_w = test_cfg.crop_size
    assert len(seen) > 1
    assert all(
        n <= test_cfg.crop_batch_size and h <= crop_h and w <= crop_w for n, _, h, w in seen
    ), seen


# ---------------------------------------------------------------------------------------------
# CLI


@pytest.mark.slow
def test_infer_folder_matches_test_py(trained, model, tmp_path):
    data = trained['data']
    stems = sorted(p.stem for p in (data / 'images').glob('*.png'))
    test_stems = (data / 'img_idx' / 'test_synthetic.txt').read_text().split()
    loader = image_loader_from_config(model.cfg)
    probs = {
        s: predict_probabilities(model, [read_ir_frame(data / 'images' / f'{s}.png', loader)])[0]
        for s in stems
    }
    thr = upper_tail_threshold([probs[s] for s in test_stems])

    inputs = tmp_path / 'frames'
    shutil.copytree(data / 'images', inputs)
    (inputs / 'zz_corrupt.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    out = tmp_path / 'out'
    res = run_tool(
        'infer',
        trained['config'],
        trained['ckpt'],
        '--input',
        inputs,
        '--out-dir',
        out,
        '--batch-size',
        1,
        '--device',
        'cpu',
        '--threshold',
        repr(thr),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'zz_corrupt.png' in res.stderr
    assert f'processed {len(stems)} frames, skipped 1' in res.stdout
    assert sorted(p.stem for p in (out / 'masks').iterdir()) == stems
    assert sorted(p.stem for p in (out / 'overlays').iterdir()) == stems
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.out')]

    rows, by_frame = read_detections(out / 'detections.csv')
    assert len(rows) > 0, 'the threshold should leave some detections'
    assert list(rows[0]) == list(infer_tool.CSV_COLUMNS)
    for stem in stems:
        mask = cv2.imread(str(out / 'masks' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(mask)) <= {0, 255}
        comps = label_components(mask > 127)
        got = by_frame.get(stem, [])
        assert [int(r['target_id']) for r in got] == list(range(1, comps.num + 1))
        for k, (r, area, (cy, cx)) in enumerate(zip(got, comps.areas, comps.centroids)):
            assert int(r['area']) == area
            assert float(r['centroid_x']) == pytest.approx(cx, abs=1e-4)
            assert float(r['centroid_y']) == pytest.approx(cy, abs=1e-4)
            peak = float(probs[stem][comps.labels == k + 1].max())
            assert float(r['peak_score']) == pytest.approx(peak, abs=1e-6)

    ref = tmp_path / 'test_out'
    res = run_tool(
        'test',
        trained['config'],
        trained['ckpt'],
        '--out',
        ref,
        '--work-dir',
        tmp_path / 'test_work',
        '--cfg-options',
        f'model.decode_head.threshold={thr!r}',
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    reports = []
    for pred_dir in (out / 'masks', ref):
        js = tmp_path / f'{pred_dir.name}.json'
        res = run_tool(
            'analysis_tools/eval_masks',
            '--pred-dir',
            pred_dir,
            '--gt-dir',
            data / 'masks',
            '--split',
            data / 'img_idx' / 'test_synthetic.txt',
            '--json',
            js,
            cwd=tmp_path,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        reports.append(json.loads(js.read_text()))
    assert reports[0] == reports[1]
    assert reports[0]['mIoU'] > 0 or reports[0]['Fa'] > 0, 'nothing predicted on the test set'
    assert reports[0]['images'] == len(test_stems)
    for stem in test_stems:
        a = cv2.imread(str(out / 'masks' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(ref / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(a > 127, b > 127), stem


def _write_video(path: Path, frames) -> bool:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5.0, (64, 64))
    if not writer.isOpened():
        return False
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path.is_file() and path.stat().st_size > 0


@pytest.mark.slow
def test_infer_video_and_out_dir_rules(trained, tmp_path, capsys):
    images = sorted((trained['data'] / 'images').glob('*.png'))[:3]
    video = tmp_path / 'clip.avi'
    if not _write_video(video, [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in images]):
        pytest.skip('this OpenCV build cannot write MJPG .avi video')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old.txt').write_text('x')
    args = [
        str(trained['config']),
        str(trained['ckpt']),
        '--input',
        str(video),
        '--out-dir',
        str(out),
        '--device',
        'cpu',
        '--no-progress',
    ]
    assert infer_tool.main(args) == 2
    assert 'not empty' in capsys.readouterr().err
    assert (out / 'old.txt').is_file()

    assert infer_tool.main(args + ['--overwrite', '--batch-size', '2']) == 0
    assert 'processed 3 frames, skipped 0' in capsys.readouterr().out
    names = [f'clip_{i:06d}' for i in range(3)]
    assert sorted(p.stem for p in (out / 'masks').iterdir()) == names
    assert sorted(p.stem for p in (out / 'overlays').iterdir()) == names
    assert not (out / 'old.txt').exists()
    rows, _ = read_detections(out / 'detections.csv')
    assert {r['frame'] for r in rows} <= set(names)

    bad = tmp_path / 'broken.avi'
    bad.write_bytes(b'RIFF0000AVI junk')
    assert (
        infer_tool.main(
            args[:3]
            + [str(bad), '--out-dir', str(tmp_path / 'o2'), '--device', 'cpu', '--no-progress']
        )
        == 1
    )
    err = capsys.readouterr().err
    assert 'broken.avi' in err and 'skipped' in err
    assert not (tmp_path / 'o2').exists()


@pytest.mark.slow
def test_load_model_uses_ema_teacher_when_config_tests_with_it(trained, tmp_path):
    cfg = tiny_config(
        'gsacp/gsacp-final_1k_sirst3.py',
        str(trained['data']),
        str(tmp_path / 'work'),
        iters=3,
        batch=4,
        val=False,
    )
    ema_hooks = [h for h in hook_configs(cfg) if h['type'] == 'EMATeacherHook']
    assert ema_hooks and cfg.model.teacher, 'gsacp_final has an EMA teacher'
    cfg.model.teacher.momentum = 0.5  # a teacher clearly apart from the student after 3 steps
    Runner.from_cfg(cfg).train()
    ckpt = torch.load(tmp_path / 'work' / 'iter_3.pth', map_location='cpu', weights_only=False)
    frame = read_ir_frame(next((trained['data'] / 'images').glob('*.png')))

    student = load_model(cfg, tmp_path / 'work' / 'iter_3.pth', 'cpu')
    for name, value in student.decode_head.state_dict().items():
        assert torch.equal(value, ckpt['state_dict'][f'decode_head.{name}']), name
    ema_hooks[0]['validate_with_teacher'] = True
    teacher = load_model(cfg, tmp_path / 'work' / 'iter_3.pth', 'cpu')
    for name, value in teacher.decode_head.state_dict().items():
        assert torch.equal(value, ckpt['state_dict'][f'teacher.decode_head.{name}']), name
    for name, value in teacher.backbone.state_dict().items():
        assert torch.equal(value, ckpt['state_dict'][f'teacher.backbone.{name}']), name
    p_s, p_t = (
        predict_probabilities(student, [frame])[0],
        predict_probabilities(teacher, [frame])[0],
    )
    assert p_s.shape == p_t.shape == frame.shape and not np.array_equal(p_s, p_t)
