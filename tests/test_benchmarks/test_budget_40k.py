"""The published budget on one GPU: the ``gpu40k`` config set and ``budget_40k.sh``, whose CPU
smoke run goes through the same commands on a tiny synthetic set."""

import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmgsacp.benchmarks.quality import (
    CONFIG_SETS,
    KEYS,
    TRAIN_OPTIONS,
    missing_methods,
    packed_options,
    packed_split_of,
    relocate_results,
)
from mmgsacp.utils.config import GPU_FAST_OPTIONS
from mmgsacp.utils.io import InputError, parse_cfg_options, write_json

from ..utils import REPO_ROOT, config_path, synthetic_root

SCRIPT = osp.join(REPO_ROOT, 'tools', 'benchmarks', 'budget_40k.sh')
METHODS = ('full_sup', 'prior_only', 'pal', 'gsacp_final')
#: method -> the per-sample 40k config its packed one must equal in everything but the data
PLAIN_40K = {
    'full_sup': 'full_sup/full-sup_40k_sirst3.py',
    'prior_only': 'prior_only/prior-only_40k_sirst3.py',
    'gsacp_final': 'gsacp/gsacp-final_40k_sirst3.py',
}


def _with_options(cfg: Config, options) -> Config:
    cfg.merge_from_dict(parse_cfg_options(options))  # as tools/train.py's --cfg-options
    return cfg


def test_gpu40k_set_is_the_published_budget():
    configs = CONFIG_SETS['gpu40k']
    assert tuple(configs) == METHODS and CONFIG_SETS['gpu40k-synthetic'] == configs
    assert TRAIN_OPTIONS['gpu40k'][: len(GPU_FAST_OPTIONS)] == list(GPU_FAST_OPTIONS)
    for method, rel in configs.items():
        cfg = _with_options(Config.fromfile(osp.join(REPO_ROOT, rel)), TRAIN_OPTIONS['gpu40k'])
        assert cfg.train_cfg.max_iters == 40000 and cfg.train_dataloader.batch_size == 16, rel
        assert cfg.optim_wrapper.type == 'BF16AutocastOptimWrapper', rel
        assert cfg.optim_wrapper.optimizer.fused is True and cfg.env_cfg.cudnn_benchmark, rel
        # PAL's label store needs the per-sample pipeline's coordinates: no packed form
        assert (packed_split_of(REPO_ROOT, rel) is None) == (method == 'pal'), rel


@pytest.mark.parametrize('method', sorted(PLAIN_40K))
def test_packed_40k_configs_match_their_methods(method):
    packed = Config.fromfile(osp.join(REPO_ROOT, CONFIG_SETS['gpu40k'][method]))
    plain = Config.fromfile(config_path(PLAIN_40K[method]))
    assert packed.model.data_preprocessor.type == 'PackedPointDataPreProcessor'
    packed.model.pop('data_preprocessor')
    plain.model.pop('data_preprocessor')
    assert packed.model == plain.model
    for key in (
        'default_hooks',
        'train_cfg',
        'optim_wrapper',
        'param_scheduler',
        'test_dataloader',
    ):
        assert packed[key] == plain[key], key
    dataset = packed.train_dataloader.dataset
    assert dataset.type == 'PackedPointDataset' and dataset.point_type == 'centroid'
    assert dataset.ann_file == plain.train_dataloader.dataset.ann_file
    assert packed.train_dataloader.batch_size == plain.train_dataloader.batch_size


def test_missing_packed_split_gives_its_command(tmp_path):
    rel = CONFIG_SETS['gpu40k']['gsacp_final']
    missing = str(tmp_path / 'none.npz')
    with pytest.raises(InputError, match='pack_split.py') as err:
        packed_options(REPO_ROOT, rel, missing, '/data/SIRST3', 'SIRST3')
    assert missing in str(err.value) and 'img_idx/train_SIRST3.txt' in str(err.value)
    (tmp_path / 'here.npz').write_bytes(b'')
    here = str(tmp_path / 'here.npz')
    assert packed_options(REPO_ROOT, rel, here, '/d', 'SIRST3') == [
        f'train_dataloader.dataset.pack_file={here}'
    ]
    assert packed_options(REPO_ROOT, CONFIG_SETS['gpu40k']['pal'], missing, '/d', 'SIRST3') == []


def test_missing_methods_and_relocation(tmp_path):
    old, new = tmp_path / 'out.partial', tmp_path / 'out'
    old.mkdir()
    metrics = {k: 1.0 for k in KEYS}
    write_json(
        {
            'full_sup': {'SIRST3': metrics, 'checkpoint': str(old / 'full_sup' / 'final.pth')},
            'pal': {'checkpoint': str(old / 'pal' / 'final.pth')},  # trained, not tested
        },
        str(old / 'quality.json'),
    )
    assert missing_methods(str(old), 'gpu40k') == ['prior_only', 'pal', 'gsacp_final']
    assert missing_methods(str(old), 'gpu40k', 'full_sup') == []
    os.rename(old, new)
    results = relocate_results(str(new), str(old))
    assert results['full_sup']['checkpoint'] == str(new / 'full_sup' / 'final.pth')
    assert json.load(open(new / 'quality.json')) == results


def _script(*args, env=None):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1', **(env or {}))
    env['PYTHONPATH'] = REPO_ROOT  # this checkout's mmgsacp in the child processes
    return subprocess.run(
        ['bash', SCRIPT, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.mark.slow
def test_no_cuda_stops_with_a_clear_message(tmp_path):
    out = tmp_path / 'out'
    res = _script(str(out), env=dict(CUDA_VISIBLE_DEVICES='', BUDGET_CPU_SMOKE='0'))
    assert res.returncode == 2, res.stderr[-2000:]
    assert 'no CUDA device' in res.stderr and '--cpu-smoke' in res.stderr
    assert not out.exists()


@pytest.mark.slow
def test_cpu_smoke_writes_one_row_per_method(tmp_path_factory, tmp_path):
    data = synthetic_root(tmp_path_factory, num_train=8, num_test=3, seed=1)
    out = tmp_path / 'out'
    # one method from the packed split, one (PAL) from the per-sample pipeline: both paths,
    # at half the cost of all four
    methods = ('full_sup', 'pal')
    res = _script(str(out), '--cpu-smoke', '--methods', ' '.join(methods), env=dict(DATA_ROOT=data))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert not (tmp_path / 'out.partial').exists()
    results = json.load(open(out / 'quality.json'))
    assert set(results) == set(methods)
    for method, entry in results.items():
        assert set(entry['synthetic']) == set(KEYS), method
        assert entry['config'] == CONFIG_SETS['gpu40k'][method]
        assert entry['checkpoint'] == str(out / method / 'final.pth')
        assert osp.isfile(entry['checkpoint'])
        assert entry['train_s'] > 0 and entry['test_s'] > 0
    rows = [line for line in open(out / 'quality.md') if line.startswith('| ')][1:]
    assert sorted(row.split('|')[1].strip() for row in rows) == sorted(methods)
    times = [line for line in open(out / 'times.md') if line.startswith('| ')][1:]
    assert len(times) == len(methods)
    # the script packed the synthetic split into the output folder, not into data/
    assert (out / 'packed' / 'synthetic_train_centroid.npz').is_file()
    assert 'cpu' in (out / 'env.txt').read_text()

    # an existing folder is never replaced
    table = (out / 'quality.md').read_text()
    again = _script(str(out), '--cpu-smoke', env=dict(DATA_ROOT=data))
    assert again.returncode == 2 and 'exists' in again.stderr
    assert (out / 'quality.md').read_text() == table
    assert not (tmp_path / 'out.partial').exists()
