"""The command-line tools as a user meets them: fast ``--help``, one-line user errors with exit
status 2, quiet imports, output permissions that follow the umask, strict JSON, and the
requirement files ``make install`` reads."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from mmgsacp.utils.fileio import atomic_write_text, default_mode, replace_dir
from mmgsacp.utils.io import (
    USER_ERROR,
    InputError,
    check_cfg_option_keys,
    check_data_paths,
    dumps_json,
    load_config,
    parse_cfg_options,
    run_tool,
    write_json,
)

from ..utils import load_module, run_python_script

REPO = Path(__file__).resolve().parents[2]
TOOLS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / 'tools').rglob('*.py'))
CONFIG = REPO / 'configs' / 'gsacp' / 'gsacp-final_1k_sirst3.py'
HEAVY = ('torch', 'mmengine', 'mmseg', 'mmcv', 'cv2', 'matplotlib', 'mmgsacp')


def _python(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` in the repository, this checkout first on the import path; its
    output is captured as text."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    return run_python_script(*args, cwd=REPO, timeout=timeout, env=env)


def _load_tool(rel: str):
    return load_module(REPO / rel, f'tool_{Path(rel).stem}')


def test_every_tool_is_listed():
    assert len(TOOLS) >= 18 and 'tools/train.py' in TOOLS and 'tools/demo.py' in TOOLS


# --------------------------------------------------------------------------------- --help


@pytest.mark.parametrize('tool', TOOLS)
def test_help_exits_0_with_usage(tool):
    res = _python(tool, '--help')
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith('usage: ') and '--help' in res.stdout
    assert res.stderr == ''


def test_parsing_arguments_imports_nothing_heavy():
    """Importing every tool and parsing its arguments (up to ``--help``) loads none of torch,
    MMEngine, MMSeg, mmcv, OpenCV, matplotlib or the mmgsacp package."""
    script = textwrap.dedent(f"""
        import importlib.util, io, contextlib, sys
        for rel in {TOOLS!r}:
            spec = importlib.util.spec_from_file_location('t', rel)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            parse = getattr(module, 'parse_args', None) or module.main
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    parse(['--help'])
                except SystemExit:
                    pass
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    res = _python('-c', script)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == '[]', res.stdout


def test_choices_kept_in_tools_match_the_library():
    from mmgsacp.benchmarks.quality import CONFIG_SETS, PHASES
    from mmgsacp.datasets.masks import MASK_SCALES
    from mmgsacp.datasets.point_sirst import DEFAULT_POINT_DIRS
    from mmgsacp.evaluation.sweep import SELECT_KEYS

    check = _load_tool('tools/analysis_tools/check_data.py')
    assert check.MASK_SCALES == MASK_SCALES and check.DEFAULT_POINT_DIRS == DEFAULT_POINT_DIRS
    assert _load_tool('tools/analysis_tools/eval_masks.py').MASK_SCALES == MASK_SCALES
    for rel in ('analyze_pareto', 'compare_pareto'):
        assert _load_tool(f'tools/analysis_tools/{rel}.py').SELECT_KEYS == SELECT_KEYS
    bench = _load_tool('tools/benchmarks/bench_quality.py')
    assert set(bench.CONFIG_SETS) == set(CONFIG_SETS) and bench.PHASES == PHASES


# ----------------------------------------------------------------------------- user errors


def test_run_tool_reports_user_errors_and_keeps_internal_tracebacks(capsys):
    def refuse():
        raise InputError('split file /x/test.txt does not exist')

    assert run_tool(refuse) == USER_ERROR
    assert capsys.readouterr().err == 'error: split file /x/test.txt does not exist\n'
    with pytest.raises(SystemExit) as info:
        run_tool(refuse, exit=True)
    assert info.value.code == USER_ERROR

    def broken():
        raise ZeroDivisionError('a bug')

    with pytest.raises(ZeroDivisionError):
        run_tool(broken)
    with pytest.raises(FileExistsError):  # not a user error unless the tool says so
        run_tool(lambda: (_ for _ in ()).throw(FileExistsError('out')))
    assert (
        run_tool(lambda: (_ for _ in ()).throw(FileExistsError('out')), also=(FileExistsError,))
        == USER_ERROR
    )
    assert run_tool(lambda x: x * 10, 3) == 30  # the work's own result passes through


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_train_and_test_name_a_missing_config(tool, tmp_path, capsys):
    module = _load_tool(f'tools/{tool}.py')
    ckpt = tmp_path / 'a.pth'
    ckpt.write_bytes(b'x')
    argv = [str(tmp_path / 'nope.py')] + ([str(ckpt)] if tool == 'test' else [])
    with pytest.raises(SystemExit) as info:
        module.main(argv)
    assert info.value.code == 2
    assert 'nope.py' in _one_error_line(capsys)


def test_test_names_a_missing_checkpoint(tmp_path, capsys):
    module = _load_tool('tools/test.py')
    with pytest.raises(SystemExit) as info:
        module.main([str(CONFIG), str(tmp_path / 'missing.pth')])
    assert info.value.code == 2
    assert 'missing.pth' in _one_error_line(capsys)


def test_train_names_the_data_root_and_the_key_to_change(tmp_path, capsys):
    module = _load_tool('tools/train.py')
    with pytest.raises(SystemExit) as info:
        module.main(
            [
                str(CONFIG),
                '--work-dir',
                str(tmp_path / 'w'),
                '--cfg-options',
                f'train_dataloader.dataset.data_root={tmp_path / "no_data"}',
            ]
        )
    assert info.value.code == 2
    line = _one_error_line(capsys)
    assert str(tmp_path / 'no_data') in line and 'train_dataloader.dataset.data_root' in line
    assert not (tmp_path / 'w').exists()  # refused before the runner made anything


def test_test_names_a_missing_split_file(tmp_path, capsys):
    (tmp_path / 'data').mkdir()
    ckpt = tmp_path / 'a.pth'
    ckpt.write_bytes(b'x')
    module = _load_tool('tools/test.py')
    with pytest.raises(SystemExit):
        module.main(
            [
                str(CONFIG),
                str(ckpt),
                '--cfg-options',
                f'test_dataloader.dataset.data_root={tmp_path / "data"}',
            ]
        )
    line = _one_error_line(capsys)
    assert 'test_SIRST3.txt' in line and 'test_dataloader.dataset.ann_file' in line


@pytest.mark.parametrize(
    'option,expected',
    [
        ('trian_cfg.max_iters=10', "no key 'trian_cfg' (did you mean train_cfg"),
        ('train_cfg.max_iters.x=1', 'train_cfg.max_iters is 1000, not a dict'),
        ('train_cfg', 'expects KEY=VALUE'),
        ('model.backbone.depths=[1,2', 'cannot read the value'),
    ],
)
def test_bad_cfg_options_are_named(option, expected, tmp_path, capsys):
    module = _load_tool('tools/train.py')
    with pytest.raises(SystemExit) as info:
        module.main([str(CONFIG), '--work-dir', str(tmp_path), '--cfg-options', option])
    assert info.value.code == 2
    assert expected in _one_error_line(capsys)


def test_infer_names_an_unreadable_input(tmp_path, capsys):
    module = _load_tool('tools/infer.py')
    ckpt = tmp_path / 'a.pth'
    ckpt.write_bytes(b'x')
    status = module.main(
        [
            str(CONFIG),
            str(ckpt),
            '--input',
            str(tmp_path / 'nothing'),
            '--out-dir',
            str(tmp_path / 'out'),
            '--device',
            'cpu',
        ]
    )
    assert status == 2
    assert 'nothing' in _one_error_line(capsys)


def test_a_config_that_does_not_parse_is_a_user_error(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('model = dict(type=\n')
    with pytest.raises(InputError, match='bad.py'):
        load_config(bad)
    with pytest.raises(InputError, match='config file not found'):
        load_config(tmp_path / 'none.py')


def test_cfg_option_keys():
    cfg = Config(
        dict(model=dict(backbone=dict(depth=3), heads=[dict(a=1)]), train_cfg=dict(max_iters=5))
    )
    options = parse_cfg_options(
        [
            'model.backbone.width=8',
            'model.heads.0.a=2',
            'randomness.seed=1',
            'train_cfg.val_interval=2',
        ]
    )
    check_cfg_option_keys(cfg, options)  # new nested keys and Runner keys are allowed
    assert options['model.backbone.width'] == 8
    for bad in ('modle.backbone.depth=1', 'model.heads.3.a=1', 'model.backbone.depth.x=1'):
        with pytest.raises(InputError, match=bad.split('=')[0].replace('.', r'\.')):
            check_cfg_option_keys(cfg, parse_cfg_options([bad]))


def test_data_paths_are_checked_through_dataset_wrappers(tmp_path):
    root = tmp_path / 'set'
    (root / 'img_idx').mkdir(parents=True)
    (root / 'img_idx' / 'train.txt').write_text('a\n')
    leaf = dict(type='PointSIRSTDataset', data_root=str(root), ann_file='img_idx/train.txt')
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    times=2,
                    dataset=dict(type='ConcatDataset', datasets=[leaf, dict(leaf)]),
                )
            ),
            val_dataloader=None,
        )
    )
    check_data_paths(cfg, ['train_dataloader', 'val_dataloader', 'test_dataloader'])
    cfg.train_dataloader.dataset.dataset.datasets[1]['ann_file'] = 'img_idx/test.txt'
    with pytest.raises(InputError) as info:
        check_data_paths(cfg, ['train_dataloader'])
    assert 'train_dataloader.dataset.dataset.datasets.1.ann_file' in str(info.value)
    assert str(root / 'img_idx' / 'test.txt') in str(info.value)


# ----------------------------------------------------------------------------- permissions


@pytest.fixture
def umask():
    """Set the process umask for a test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize('mask', [0o022, 0o077, 0o002])
def test_atomic_writes_and_replaced_folders_follow_the_umask(mask, umask, tmp_path):
    umask(mask)
    atomic_write_text('x', tmp_path / 'a.txt')
    write_json({'a': 1}, tmp_path / 'b.json')
    with open(tmp_path / 'plain.txt', 'w') as f:  # what the user expects
        f.write('x')
    expected = stat.S_IMODE(os.stat(tmp_path / 'plain.txt').st_mode)
    assert expected == 0o666 & ~mask == default_mode()
    for name in ('a.txt', 'b.json'):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected
    staged = tmp_path / '.staged'
    staged.mkdir(mode=0o700)
    replace_dir(staged, tmp_path / 'out')
    assert stat.S_IMODE(os.stat(tmp_path / 'out').st_mode) == 0o777 & ~mask


# ------------------------------------------------------------------------------ strict JSON


def _reject_constant(name):
    raise AssertionError(f'non-standard JSON constant {name}')


def test_json_writes_nan_and_infinity_as_null(tmp_path):
    metrics = {
        'mIoU': 0.5,
        'Pd': float('nan'),
        'Fa': float('inf'),
        'parts': [np.float32('nan'), np.float64(0.25), np.int64(3)],
        'arr': np.array([1.0, np.nan]),
    }
    write_json(metrics, tmp_path / 'm.json')
    text = (tmp_path / 'm.json').read_text()
    loaded = json.loads(text, parse_constant=_reject_constant)
    assert loaded == {
        'mIoU': 0.5,
        'Pd': None,
        'Fa': None,
        'parts': [None, 0.25, 3],
        'arr': [1.0, None],
    }
    assert text.endswith('}\n')


def test_json_refuses_what_it_cannot_represent(tmp_path):
    with pytest.raises(TypeError):
        dumps_json({'a': object()})
    assert json.loads(dumps_json({'x': -math.inf}))['x'] is None


# ---------------------------------------------------------------------------- import noise


@pytest.mark.slow
def test_importing_the_package_prints_no_third_party_notices():
    script = (
        'import warnings; warnings.simplefilter("always"); import mmgsacp; '
        'warnings.warn("a real warning")'
    )
    res = _python('-c', script, timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'OneDL' not in res.stdout + res.stderr
    assert 'MultiScaleDeformableAttention' not in res.stderr
    assert res.stdout == ''
    assert 'a real warning' in res.stderr  # other warnings still show


def test_line_filter_drops_only_the_named_lines():
    import io

    import mmgsacp

    out = io.StringIO()
    stream = mmgsacp._LineFilter(out, frozenset({'Could not import OneDL'}))
    stream.write('Could not import OneDL\nkept line\nCould not import One')
    stream.write('DL for real\n')
    stream.write('tail')
    stream.flush()
    assert out.getvalue() == 'kept line\nCould not import OneDL for real\ntail'


# ----------------------------------------------------------------------------- requirements


def _requirement_lines(path: Path):
    for line in path.read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            yield line


def test_requirement_files_split_as_mmseg_does():
    top = list(_requirement_lines(REPO / 'requirements.txt'))
    assert top == [
        '-r requirements/runtime.txt',
        '-r requirements/tests.txt',
        '-r requirements/deploy.txt',
    ]
    runtime = list(_requirement_lines(REPO / 'requirements' / 'runtime.txt'))
    tests = list(_requirement_lines(REPO / 'requirements' / 'tests.txt'))
    deploy = list(_requirement_lines(REPO / 'requirements' / 'deploy.txt'))
    assert 'torch==2.13.0' in runtime
    assert {r.split('>=')[0] for r in tests} >= {'pytest', 'hypothesis'}
    # The deployment packages are pinned, and the runtime needs neither them nor the tests'.
    assert {r.split('==')[0] for r in deploy} == {'onnx', 'onnxruntime'}
    assert not {r.split('>=')[0].split('==')[0] for r in runtime} & {
        'pytest',
        'hypothesis',
        'onnx',
        'onnxruntime',
    }
    for name in ('mm-fork.txt', 'mm-official.txt'):
        assert (REPO / 'requirements' / name).is_file()
    makefile = (REPO / 'Makefile').read_text()
    stamp = next(line for line in makefile.splitlines() if line.startswith('$(STAMP):'))
    for name in (
        'requirements.txt',
        'requirements/runtime.txt',
        'requirements/tests.txt',
        'requirements/deploy.txt',
        'requirements/mm-fork.txt',
    ):
        assert name in stamp
