"""The quality benchmark's plumbing on a tiny synthetic set."""

import json
import os
import os.path as osp

import pytest

from mmgsacp.benchmarks.quality import CPU_CONFIGS, save_entry

from ..utils import REPO_ROOT, run_python_script, synthetic_root

TINY = [
    'train_cfg.max_iters=2',
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
]


def _bench(*args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return run_python_script(
        'tools/benchmarks/bench_quality.py', *args, cwd=REPO_ROOT, timeout=600, env=env
    )


@pytest.fixture(scope='module')
def syn_root(tmp_path_factory):
    return synthetic_root(tmp_path_factory, num_train=8, num_test=3, seed=1)


@pytest.mark.slow
def test_benchmark_writes_results_and_resumes(syn_root, tmp_path):
    work = str(tmp_path / 'bench')
    common = [
        '--config-set',
        'synthetic',
        '--data-root',
        syn_root,
        '--work-dir',
        work,
        '--cfg-options',
        *TINY,
    ]
    res = _bench('--methods', 'full_sup gsacp_base', *common)
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.load(open(osp.join(work, 'quality.json')))
    assert set(results) == {'full_sup', 'gsacp_base'}
    for method, entry in results.items():
        assert set(entry['synthetic']) == {'mIoU', 'nIoU', 'Pd', 'Fa'}
        assert osp.isfile(entry['checkpoint']) and entry['train_s'] > 0
        assert entry['config'] == CPU_CONFIGS[method]
    table = open(osp.join(work, 'quality.md')).read()
    assert '| full_sup |' in table and '| gsacp_base |' in table

    # a second run keeps finished methods and only adds the new one
    res = _bench('--methods', 'full_sup prior_only', *common)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'full_sup: done earlier' in res.stdout
    results = json.load(open(osp.join(work, 'quality.json')))
    assert set(results) == {'full_sup', 'gsacp_base', 'prior_only'}


@pytest.mark.slow
def test_unknown_method_lists_known_ones(syn_root, tmp_path):
    res = _bench(
        '--config-set',
        'synthetic',
        '--methods',
        'gsacp_magic',
        '--data-root',
        syn_root,
        '--work-dir',
        str(tmp_path),
    )
    assert res.returncode != 0
    assert 'gsacp_magic' in res.stderr and 'gsacp_final' in res.stderr and 'lesps' in res.stderr


@pytest.mark.slow
def test_missing_data_root_says_where(tmp_path):
    res = _bench(
        '--methods',
        'full_sup',
        '--data-root',
        str(tmp_path / 'nowhere'),
        '--work-dir',
        str(tmp_path / 'w'),
    )
    assert res.returncode != 0
    assert 'nowhere' in res.stderr and '--data-root' in res.stderr


def test_entries_of_concurrent_runs_are_kept(tmp_path):
    path = str(tmp_path / 'quality.json')
    save_entry(path, 'full_sup', {'train_s': 1.0})
    # another process, started before, writes its own method afterwards
    results = save_entry(path, 'gsacp_final', {'train_s': 2.0})
    assert set(results) == {'full_sup', 'gsacp_final'}
    assert json.load(open(path)) == results
