"""End to end on a tiny synthetic set: train, checkpoint, resume, test, score, distribute."""

import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import Runner

import mmgsacp  # noqa: F401

from ..utils import REPO_ROOT, run_python_script, synthetic_root, tiny_config


@pytest.fixture(scope='module')
def syn_root(tmp_path_factory):
    return synthetic_root(tmp_path_factory, num_train=24, num_test=6, seed=3)


def _losses(runner):
    return np.asarray(runner.message_hub.get_scalar('train/loss').data[0])


@pytest.mark.parametrize(
    'config', ['full_sup/full-sup_1k_sirst3.py', 'gsacp/gsacp-final_1k_sirst3.py']
)
@pytest.mark.slow
def test_short_training_loss_falls(config, syn_root, tmp_path):
    cfg = tiny_config(config, syn_root, str(tmp_path / 'w'), iters=40, batch=8, val=False)
    cfg.optim_wrapper.optimizer.lr = 3e-3
    # From an uninformed classifier (p = 0.5) the loss has far to fall in 40 steps; the
    # default prior start (p = 0.01) already sits near the background optimum.
    cfg.model.decode_head.prior_prob = 0.5
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert np.isfinite(_losses(runner)).all()
    # The segmentation term: GSACP's total also holds the contrastive term, whose weight
    # rises with the warm-up, so the total need not fall in 40 steps (the BCE falls by ~27 %).
    bce = np.asarray(runner.message_hub.get_scalar('train/decode.loss_bce').data[0])
    assert bce[-8:].mean() < 0.9 * bce[:8].mean()


@pytest.mark.slow
def test_ladder_configs_train_a_few_iterations(syn_root, tmp_path):
    for rung in ('base', 'ema', 'hbc', 'asg', 'final'):
        cfg = tiny_config(
            f'gsacp/gsacp-{rung}_1k_sirst3.py', syn_root, str(tmp_path / rung), iters=4, val=False
        )
        runner = Runner.from_cfg(cfg)
        runner.train()
        assert np.isfinite(_losses(runner)).all(), rung
        drift = [json.loads(line) for line in open(osp.join(cfg.work_dir, 'drift.jsonl'))]
        assert [d['iter'] for d in drift] == [2, 4]
        assert 0.0 <= drift[-1]['pseudo_iou'] <= 1.0
        if rung in ('ema', 'final'):
            assert 'agreement' in drift[-1]
        assert osp.isfile(osp.join(cfg.work_dir, 'drift', 'iter_4.png'))


@pytest.mark.slow
def test_resume_continues_from_saved_iteration(syn_root, tmp_path):
    work = str(tmp_path / 'w')
    cfg = tiny_config(
        'gsacp/gsacp-final_1k_sirst3.py', syn_root, work, iters=4, val=False, checkpoint_interval=2
    )
    first = Runner.from_cfg(cfg)
    first.train()
    ckpt = osp.join(work, 'iter_4.pth')
    assert open(osp.join(work, 'last_checkpoint')).read().strip().endswith('iter_4.pth')
    # loads with the safe unpickler: no weights_only=False needed on torch >= 2.6
    saved = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert saved['meta']['iter'] == 4
    teacher_saved = {
        k[len('teacher.') :]: v for k, v in saved['state_dict'].items() if k.startswith('teacher.')
    }
    assert teacher_saved and 'ema_teacher' not in saved  # the teacher is part of the model

    student_head = saved['state_dict']['decode_head.conv_seg.weight']
    assert not torch.equal(teacher_saved['decode_head.conv_seg.weight'], student_head)

    seen, second = _resume(syn_root, work)
    assert seen['iter'] == 4 and seen['updates'] == 4
    for k, v in teacher_saved.items():
        assert torch.equal(seen['teacher'][k], v), k
    assert second.iter == 6

    # The same checkpoint in the earlier layout (teacher under a top-level 'ema_teacher' key,
    # not in the state dict) resumes to the same teacher, optimizer state included.
    legacy = dict(
        saved,
        state_dict={k: v for k, v in saved['state_dict'].items() if not k.startswith('teacher.')},
        ema_teacher=teacher_saved,
        meta=dict(saved['meta'], ema_teacher_scope='full'),
    )
    old_work = str(tmp_path / 'old')
    os.makedirs(old_work)
    torch.save(legacy, osp.join(old_work, 'iter_4.pth'))
    seen, third = _resume(syn_root, old_work, load_from=osp.join(old_work, 'iter_4.pth'))
    assert seen['iter'] == 4
    for k, v in teacher_saved.items():
        assert torch.equal(seen['teacher'][k], v), k
    assert third.iter == 6


def _resume(syn_root, work, load_from=None):
    """Resume gsacp_final in ``work`` to iteration 6; what the model held when it restarted."""
    from mmengine.hooks import Hook

    cfg = tiny_config(
        'gsacp/gsacp-final_1k_sirst3.py', syn_root, work, iters=6, val=False, checkpoint_interval=2
    )
    cfg.resume = True
    cfg.load_from = load_from
    runner = Runner.from_cfg(cfg)
    seen = {}

    class Spy(Hook):
        priority = 'LOWEST'

        def before_train(self, runner):
            model = runner.model
            seen['iter'] = runner.iter
            seen['updates'] = int(model.decode_head.num_updates)
            seen['teacher'] = {k: v.clone() for k, v in model.teacher.state_dict().items()}

    runner.register_hook(Spy())
    runner.train()
    return seen, runner


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    return run_python_script(*args, cwd=REPO_ROOT, env=env, **kw)


@pytest.fixture(scope='module')
def trained(syn_root, tmp_path_factory):
    """A tiny trained model and its config as a file."""
    work = str(tmp_path_factory.mktemp('trained'))
    cfg = tiny_config(
        'gsacp/gsacp-final_1k_sirst3.py', syn_root, work, iters=20, batch=8, val=False
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    cfg_file = osp.join(work, 'tiny.py')
    cfg.dump(cfg_file)
    return cfg_file, osp.join(work, 'iter_20.pth'), work


@pytest.mark.slow
def test_test_out_scores_like_in_run_metric(trained, syn_root, tmp_path):
    cfg_file, ckpt, _ = trained
    out, show = str(tmp_path / 'pred'), str(tmp_path / 'show')
    metrics_json = str(tmp_path / 'm.json')
    res = _run(
        [
            'tools/test.py',
            cfg_file,
            ckpt,
            '--work-dir',
            str(tmp_path / 'tw'),
            '--out',
            out,
            '--show-dir',
            show,
            '--json',
            metrics_json,
        ]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    in_run = json.load(open(metrics_json))
    stems = open(osp.join(syn_root, 'img_idx', 'test_synthetic.txt')).read().split()
    assert sorted(os.listdir(out)) == sorted(s + '.png' for s in stems)
    assert sorted(os.listdir(show)) == sorted(s + '.png' for s in stems)
    eval_json = str(tmp_path / 'e.json')
    res = _run(
        [
            'tools/analysis_tools/eval_masks.py',
            '--pred-dir',
            out,
            '--gt-dir',
            osp.join(syn_root, 'masks'),
            '--split',
            osp.join(syn_root, 'img_idx', 'test_synthetic.txt'),
            '--json',
            eval_json,
        ]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    offline = json.load(open(eval_json))
    for key in ('mIoU', 'nIoU', 'Pd', 'Fa'):
        assert offline[key] == pytest.approx(in_run[key], abs=1e-6), key
    assert offline['images'] == len(stems)

    # an existing prediction folder is not replaced without --overwrite, and stays intact
    before = sorted(os.listdir(out))
    res = _run(['tools/test.py', cfg_file, ckpt, '--work-dir', str(tmp_path / 'tw'), '--out', out])
    assert res.returncode != 0 and 'overwrite' in res.stderr
    assert sorted(os.listdir(out)) == before


@pytest.mark.slow
def test_distributed_two_processes_match_single(trained, syn_root, tmp_path):
    cfg_file, ckpt, _ = trained
    torchrun = ['-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_port=29531']
    res = _run(
        torchrun
        + [
            'tools/train.py',
            cfg_file,
            '--launcher',
            'pytorch',
            '--work-dir',
            str(tmp_path / 'dist_train'),
            '--cfg-options',
            'train_cfg.max_iters=3',
            'default_hooks.checkpoint.interval=3',
        ],
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert osp.isfile(tmp_path / 'dist_train' / 'iter_3.pth')

    single, dist = str(tmp_path / 's.json'), str(tmp_path / 'd.json')
    res = _run(
        ['tools/test.py', cfg_file, ckpt, '--work-dir', str(tmp_path / 'ts'), '--json', single]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    res = _run(
        torchrun
        + [
            'tools/test.py',
            cfg_file,
            ckpt,
            '--launcher',
            'pytorch',
            '--work-dir',
            str(tmp_path / 'td'),
            '--json',
            dist,
        ],
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = json.load(open(single)), json.load(open(dist))
    for key in ('mIoU', 'nIoU', 'Pd', 'Fa'):
        assert b[key] == pytest.approx(a[key], abs=1e-9), key


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(syn_root, tmp_path):
    work = str(tmp_path / 'w')
    cfg = tiny_config('full_sup/full-sup_1k_sirst3.py', syn_root, work, iters=2, val=False)
    Runner.from_cfg(cfg).train()
    good = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu', weights_only=True)

    cfg = tiny_config('full_sup/full-sup_1k_sirst3.py', syn_root, work, iters=4, val=False)
    cfg.resume = True
    cfg.model.data_preprocessor.std = [float('nan')]  # poisons every input
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='Non-finite loss at iteration 3.*iter_2.pth'):
        runner.train()
    assert open(osp.join(work, 'last_checkpoint')).read().strip().endswith('iter_2.pth')
    again = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu', weights_only=True)
    for k, v in good['state_dict'].items():
        assert torch.equal(again['state_dict'][k], v)


@pytest.mark.slow
def test_cross_dataset_evaluation_in_one_run(trained, syn_root, tmp_path):
    """`--data-roots` scores several SIRST3-layout folders (no split lists, no point maps)
    in one run, one part per folder."""
    import shutil

    cfg_file, ckpt, _ = trained
    roots = []
    for name, stems in (('site_a', slice(0, 3)), ('site_b', slice(3, 6))):
        root = tmp_path / name
        (root / 'images').mkdir(parents=True)
        (root / 'masks').mkdir()
        for stem in open(osp.join(syn_root, 'img_idx', 'test_synthetic.txt')).read().split()[stems]:
            for sub in ('images', 'masks'):
                shutil.copy(osp.join(syn_root, sub, stem + '.png'), root / sub)
        roots.append(str(root))
    out = str(tmp_path / 'm.json')
    res = _run(
        [
            'tools/test.py',
            cfg_file,
            ckpt,
            '--work-dir',
            str(tmp_path / 'w'),
            '--data-roots',
            *roots,
            '--json',
            out,
        ]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.load(open(out))
    for name in ('site_a', 'site_b'):
        for key in ('mIoU', 'nIoU', 'Pd', 'Fa'):
            assert f'{name}/{key}' in metrics
    whole = str(tmp_path / 'whole.json')
    res = _run(
        ['tools/test.py', cfg_file, ckpt, '--work-dir', str(tmp_path / 'w2'), '--json', whole]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    # the two folders together are the synthetic test list: same overall numbers
    assert metrics['mIoU'] == pytest.approx(json.load(open(whole))['mIoU'], abs=1e-9)


@pytest.mark.slow
def test_warmup_ratio_follows_the_runs_length(syn_root, tmp_path):
    """warmup_ratio resolves against the Runner's max_iters, whatever the run's length."""
    from mmengine.hooks import Hook

    for iters, (start, end) in ((10, (1, 4)), (20, (2, 8))):
        cfg = tiny_config(
            'gsacp/gsacp-base_1k_sirst3.py',
            syn_root,
            str(tmp_path / str(iters)),
            iters=iters,
            val=False,
        )
        cfg.model.decode_head.update(warmup_ratio=(0.1, 0.4), warmup_iters=None)
        runner = Runner.from_cfg(cfg)
        weights = []

        class Spy(Hook):
            def before_train_iter(self, runner, batch_idx, data_batch=None):
                weights.append(runner.model.decode_head.affinity_weight())

        runner.register_hook(Spy())
        runner.train()
        expected = [min(max((step - start) / (end - start), 0.0), 1.0) for step in range(iters)]
        assert weights == pytest.approx(expected), iters
