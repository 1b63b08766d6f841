"""Checkpoints: refused when unsafe or mismatched, written so that a crash or a full disk never
leaves a run without one ``--resume`` can load."""

from __future__ import annotations

import errno
import glob
import os
import os.path as osp
import pathlib
import signal
import subprocess
import sys
import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmseg.registry import MODELS

import mmgsacp  # noqa: F401  (installs the safe loader)
from mmgsacp.apis import load_model
from mmgsacp.engine.hooks import find_resume_checkpoint
from mmgsacp.utils.checkpoint import (
    UNSAFE_ENV,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointSaveError,
    UnsafeCheckpointError,
    allow_unsafe_checkpoints,
    load_checkpoint_file,
    state_dict_for_model,
)

from ..utils import REPO_ROOT, config_path, load_module, synthetic_root, tiny_config


def _load_tool(name: str):
    return load_module(osp.join(REPO_ROOT, 'tools', f'{name}.py'), f'_{name}_ckpt_tool')


test_tool, infer_tool, train_tool = (_load_tool(n) for n in ('test', 'infer', 'train'))


class TouchOnLoad:
    """Unpickling it calls ``Path(marker).touch()`` (through ``getattr``)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


class ShellOnLoad:
    """Unpickling it runs a shell command."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def syn_root(tmp_path_factory):
    return synthetic_root(tmp_path_factory, num_train=8, num_test=3, seed=5)


@pytest.fixture(scope='module')
def trained(syn_root, tmp_path_factory):
    """A checkpoint from a normal tiny run (EMA teacher included) and its config file."""
    work = str(tmp_path_factory.mktemp('cktrained'))
    cfg = tiny_config('gsacp/gsacp-final_1k_sirst3.py', syn_root, work, iters=2, val=False)
    Runner.from_cfg(cfg).train()
    cfg_file = osp.join(work, 'tiny.py')
    cfg.dump(cfg_file)
    return cfg_file, osp.join(work, 'iter_2.pth')


def _test_args(cfg_file, ckpt, tmp_path):
    return [cfg_file, str(ckpt), '--work-dir', str(tmp_path / 'test_work')]


def _infer_args(cfg_file, ckpt, syn_root, tmp_path):
    return [
        cfg_file,
        str(ckpt),
        '--input',
        osp.join(syn_root, 'images'),
        '--out-dir',
        str(tmp_path / 'infer_out'),
        '--device',
        'cpu',
        '--no-progress',
    ]


def _with_payload(ckpt: str, payload, dst) -> str:
    checkpoint = torch.load(ckpt, map_location='cpu', weights_only=True)
    checkpoint['meta']['note'] = payload
    torch.save(checkpoint, dst)
    return str(dst)


# ---------------------------------------------------------------------------------- loading


@pytest.mark.parametrize('payload', [TouchOnLoad, ShellOnLoad])
def test_code_running_checkpoint_is_refused_before_it_runs(payload, trained, tmp_path):
    marker = tmp_path / 'marker'
    evil = _with_payload(trained[1], payload(str(marker)), tmp_path / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth') as info:
        load_checkpoint_file(evil)
    assert info.value.globals  # the offending global is named
    assert ('getattr' if payload is TouchOnLoad else 'system') in str(info.value)
    # MMEngine's own entry point (load_from, Pretrained init) goes through the same loader
    model = torch.nn.Linear(2, 2)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(model, evil)
    assert not marker.exists()


@pytest.mark.slow
def test_every_entry_point_refuses_it(trained, syn_root, tmp_path, capsys):
    cfg_file, ckpt = trained
    marker = tmp_path / 'marker'
    evil = _with_payload(ckpt, TouchOnLoad(str(marker)), tmp_path / 'evil.pth')

    with pytest.raises(SystemExit) as exit_info:
        test_tool.main(_test_args(cfg_file, evil, tmp_path))
    assert exit_info.value.code == 2
    assert 'evil.pth' in capsys.readouterr().err

    assert infer_tool.main(_infer_args(cfg_file, evil, syn_root, tmp_path)) == 2
    assert 'evil.pth' in capsys.readouterr().err
    assert not (tmp_path / 'infer_out').exists()

    with pytest.raises(SystemExit) as exit_info:
        train_tool.main([cfg_file, '--work-dir', str(tmp_path / 'resume'), '--resume', evil])
    assert exit_info.value.code == 2
    assert 'evil.pth' in capsys.readouterr().err

    for resume in (False, True):  # load_from, and resume through the runner directly
        cfg = Config.fromfile(cfg_file)
        cfg.work_dir = str(tmp_path / f'load_{resume}')
        cfg.load_from, cfg.resume = evil, resume
        with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth'):
            Runner.from_cfg(cfg).train()
    assert not marker.exists()


def test_unsafe_loading_is_an_explicit_opt_in(tmp_path, monkeypatch):
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'lr': np.float64(0.5)}}, legacy)
    with pytest.raises(UnsafeCheckpointError, match='numpy'):
        load_checkpoint_file(legacy)
    monkeypatch.setenv(UNSAFE_ENV, '1')
    assert load_checkpoint_file(legacy)['meta']['lr'] == 0.5
    monkeypatch.delenv(UNSAFE_ENV)
    allow_unsafe_checkpoints()
    try:
        assert load_checkpoint_file(legacy)['meta']['lr'] == 0.5
    finally:
        allow_unsafe_checkpoints(False)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(legacy)


def test_globally_allow_listed_getattr_does_not_open_the_loader(tmp_path):
    marker = tmp_path / 'marker'
    evil = str(tmp_path / 'evil.pth')
    torch.save({'x': TouchOnLoad(str(marker))}, evil)
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([getattr])
    try:
        with pytest.raises(UnsafeCheckpointError):
            load_checkpoint_file(evil)
        assert getattr in torch.serialization.get_safe_globals()  # left as it was
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
    assert not marker.exists()


def test_empty_and_truncated_files_are_named(trained, tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointError, match=r'empty\.pth is empty'):
        load_checkpoint_file(str(empty))
    cut = tmp_path / 'cut.pth'
    data = open(trained[1], 'rb').read()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r'cut\.pth cannot be read'):
        load_checkpoint_file(str(cut))


# --------------------------------------------------------------------------------- matching


def test_key_rule_ignores_training_only_prefixes_and_nothing_else():
    model = OrderedDict([('backbone.w', torch.zeros(2, 3)), ('decode_head.b', torch.zeros(1))])
    ckpt = {
        'state_dict': OrderedDict(
            [
                ('module.backbone.w', torch.ones(2, 3)),
                ('decode_head.b', torch.ones(1)),
                ('auxiliary_head.w', torch.ones(4)),
                ('teacher.decode_head.b', torch.ones(1)),
                ('ema_teacher.backbone.w', torch.ones(2, 3)),
            ]
        )
    }
    state = state_dict_for_model(ckpt, model, 'a.pth')
    assert list(state) == ['backbone.w', 'decode_head.b']

    ckpt['state_dict']['backbone.extra'] = torch.ones(1)
    with pytest.raises(
        CheckpointMismatchError, match=r'a\.pth.*unexpected keys 1: backbone\.extra'
    ):
        state_dict_for_model(ckpt, model, 'a.pth')
    del ckpt['state_dict']['backbone.extra']
    ckpt['state_dict']['decode_head.b'] = torch.ones(3)
    with pytest.raises(CheckpointMismatchError, match=r'shape mismatches.*decode_head\.b'):
        state_dict_for_model(ckpt, model, 'a.pth')
    # a model that has an auxiliary head must get its weights from the checkpoint
    model['auxiliary_head.w'] = torch.zeros(4)
    ckpt['state_dict']['decode_head.b'] = torch.ones(1)
    assert 'auxiliary_head.w' in state_dict_for_model(ckpt, model, 'a.pth')
    del ckpt['state_dict']['auxiliary_head.w']
    with pytest.raises(CheckpointMismatchError, match=r'missing keys 1: auxiliary_head\.w'):
        state_dict_for_model(ckpt, model, 'a.pth')


def test_first_form_checkpoint_tests_under_the_current_head():
    """The first form's affinity projection (decode_head.embed) only fed the training targets:
    its checkpoints load into today's GSACP head, which measures affinity on its features."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('gsacp/gsacp-final_1k_sirst3.py'))
    current = MODELS.build(cfg.model)
    assert current.decode_head.embed is None
    cfg.model.decode_head.target_cfg['rule'] = 'v1'
    first_form = MODELS.build(cfg.model)
    ckpt = {'state_dict': first_form.state_dict()}
    assert any(k.startswith('decode_head.embed.') for k in ckpt['state_dict'])
    state = state_dict_for_model(ckpt, current.state_dict(), 'first_form.pth')
    assert not any(k.startswith('decode_head.embed.') for k in state)
    current.load_state_dict(state, strict=True)


def test_load_model_ignores_teacher_and_auxiliary_keys(trained, tmp_path):
    cfg_file, ckpt = trained
    checkpoint = torch.load(ckpt, map_location='cpu', weights_only=True)
    sd = checkpoint['state_dict']
    assert any(k.startswith('teacher.') for k in sd)  # the EMA teacher is in the state dict
    sd['auxiliary_head.conv_seg.weight'] = torch.ones(1, 4, 1, 1)
    sd['teacher.decode_head.conv_seg.bias'] = torch.ones(1)
    extended = str(tmp_path / 'extended.pth')
    torch.save(checkpoint, extended)
    model = load_model(cfg_file, extended, 'cpu')
    for name, value in model.state_dict().items():
        assert torch.equal(value, sd[name]), name


def _other_architecture(dst) -> str:
    cfg = Config.fromfile(config_path('full_sup/full-sup_dnanet_1k_sirst3.py'))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, dst)
    return str(dst)


@pytest.mark.slow
def test_other_architecture_or_empty_weights_are_refused_by_test_and_infer(
    trained, syn_root, tmp_path, capsys
):
    cfg_file, _ = trained
    other = _other_architecture(tmp_path / 'dnanet.pth')
    empty = str(tmp_path / 'empty_sd.pth')
    torch.save({'state_dict': {}, 'meta': {}}, empty)
    for ckpt, expected in (
        (other, ('missing keys', 'unexpected keys', 'more)')),
        (empty, ('holds no weights',)),
    ):
        with pytest.raises(SystemExit) as exit_info:
            test_tool.main(_test_args(cfg_file, ckpt, tmp_path))
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert osp.basename(ckpt) in err and all(e in err for e in expected), err
        assert infer_tool.main(_infer_args(cfg_file, ckpt, syn_root, tmp_path)) == 2
        err = capsys.readouterr().err
        assert osp.basename(ckpt) in err and all(e in err for e in expected), err


@pytest.mark.slow
def test_checkpoint_of_a_normal_run_loads_in_test_and_infer(trained, syn_root, tmp_path):
    cfg_file, ckpt = trained
    metrics = test_tool.main(_test_args(cfg_file, ckpt, tmp_path))
    assert 0.0 <= metrics['mIoU'] <= 1.0
    assert infer_tool.main(_infer_args(cfg_file, ckpt, syn_root, tmp_path)) == 0
    frames = os.listdir(osp.join(syn_root, 'images'))
    assert sorted(os.listdir(tmp_path / 'infer_out' / 'masks')) == sorted(frames)


# --------------------------------------------------------------------------------- writing


def _tmp_files(folder) -> list:
    return [n for n in os.listdir(folder) if n.startswith('.tmp_')]


def _pointer(work) -> str:
    return open(osp.join(work, 'last_checkpoint')).read().strip()


class _StartSpy(Hook):
    priority = 'LOWEST'

    def before_train(self, runner):
        self.start = runner.iter


def _resume_to_4_from_2(cfg) -> None:
    """Resume ``cfg`` (a 4-iteration run) and check it starts at iteration 2 and ends at 4."""
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    spy = _StartSpy()
    runner.register_hook(spy)
    runner.train()
    assert spy.start == 2 and runner.iter == 4


@pytest.mark.slow
def test_failed_save_keeps_last_good_checkpoint_and_pointer(syn_root, tmp_path, monkeypatch):
    work = osp.realpath(str(tmp_path / 'w'))

    def cfg_for(iters):
        cfg = tiny_config(
            'full_sup/full-sup_1k_sirst3.py',
            syn_root,
            work,
            iters=iters,
            val=False,
            checkpoint_interval=2,
        )
        cfg.default_hooks.checkpoint.max_keep_ckpts = 1
        return cfg

    Runner.from_cfg(cfg_for(2)).train()
    good = load_checkpoint_file(osp.join(work, 'iter_2.pth'))

    real_fsync = os.fsync

    def disk_full(fd):
        if osp.dirname(os.readlink(f'/proc/self/fd/{fd}')) == work:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, 'fsync', disk_full)
    cfg = cfg_for(4)
    cfg.resume = True
    with pytest.raises(CheckpointSaveError, match=r'iter_4\.pth.*No space left.*iter_2\.pth'):
        Runner.from_cfg(cfg).train()
    monkeypatch.undo()
    assert _pointer(work).endswith('iter_2.pth')
    assert not osp.exists(osp.join(work, 'iter_4.pth')) and not _tmp_files(work)
    again = load_checkpoint_file(osp.join(work, 'iter_2.pth'))
    for k, v in good['state_dict'].items():
        assert torch.equal(again['state_dict'][k], v), k
    logs = ''.join(open(p).read() for p in glob.glob(osp.join(work, '*', '*.log')))
    assert 'could not save' in logs and 'unchanged' in logs

    # a pointer emptied by a crash: --resume continues from the newest complete checkpoint
    open(osp.join(work, 'last_checkpoint'), 'w').close()
    _resume_to_4_from_2(cfg_for(4))
    assert _pointer(work).endswith('iter_4.pth')
    assert not osp.exists(osp.join(work, 'iter_2.pth'))  # max_keep_ckpts=1, once 4 is safe


_KILLED_CHILD = r"""
import os, sys, time
from mmengine.runner import Runner
import mmgsacp
from tests.utils import tiny_config

work, data = sys.argv[1:3]
real_fsync = os.fsync
seen = []

def slow_fsync(fd):
    path = os.readlink(f'/proc/self/fd/{fd}')
    if os.path.basename(path).startswith('.tmp_') and os.path.getsize(path) > 20000:
        seen.append(path)
        if len(seen) == 2:  # the second checkpoint: written, not yet renamed into place
            print('SAVING', flush=True)
            time.sleep(600)
    real_fsync(fd)

os.fsync = slow_fsync
cfg = tiny_config('full_sup/full-sup_1k_sirst3.py', data, work, iters=4, val=False,
                  checkpoint_interval=2)
Runner.from_cfg(cfg).train()
"""


@pytest.mark.slow
def test_kill_during_save_then_resume(syn_root, tmp_path):
    work = str(tmp_path / 'w')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    child = subprocess.Popen(
        [sys.executable, '-c', _KILLED_CHILD, work, syn_root],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(300, child.kill)
    watchdog.start()
    output = []
    try:
        for line in child.stdout:
            output.append(line)
            if line.startswith('SAVING'):
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait()
    finally:
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL, ''.join(output[-30:])
    assert _tmp_files(work), 'the killed save left its temporary file'
    assert _pointer(work).endswith('iter_2.pth')

    _resume_to_4_from_2(
        tiny_config(
            'full_sup/full-sup_1k_sirst3.py',
            syn_root,
            work,
            iters=4,
            val=False,
            checkpoint_interval=2,
        )
    )
    assert not _tmp_files(work)
    assert load_checkpoint_file(_pointer(work))['meta']['iter'] == 4


def test_resume_pointer_rules(tmp_path):
    work = str(tmp_path)
    pointer = tmp_path / 'last_checkpoint'
    assert find_resume_checkpoint(work, work) is None  # fresh run

    pointer.write_text(str(tmp_path / 'iter_8.pth'))
    with pytest.raises(CheckpointError, match=r'iter_8\.pth, which does not exist.*no complete'):
        find_resume_checkpoint(work, work)

    for step in (2, 4, 6):
        torch.save({'meta': {'iter': step}}, tmp_path / f'iter_{step}.pth')
    data = (tmp_path / 'iter_6.pth').read_bytes()
    (tmp_path / 'iter_6.pth').write_bytes(data[: len(data) // 2])  # truncated by a crash
    assert find_resume_checkpoint(work, work) == str(tmp_path / 'iter_4.pth')
    pointer.write_text('')
    assert find_resume_checkpoint(work, work) == str(tmp_path / 'iter_4.pth')
    pointer.write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resume_checkpoint(work, work) == str(tmp_path / 'iter_2.pth')
