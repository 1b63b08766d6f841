"""The data-path benchmark: both paths run on one split and their ratio is reported."""

import pytest

from mmgsacp.benchmarks.data_path import benchmark_data_path
from mmgsacp.datasets import make_synthetic_dataset, pack_split

from ..utils import REPO_ROOT, run_tool


@pytest.fixture(scope='module')
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp('bench') / 'set'
    make_synthetic_dataset(root, num_train=6, num_test=1, size=(48, 48), seed=2)
    pack = str(root.parent / 'train.npz')
    pack_split(str(root), 'img_idx/train_synthetic.txt', pack)
    return root, pack


def test_both_paths_timed(split):
    root, pack = split
    result = benchmark_data_path(
        REPO_ROOT, str(root), 'img_idx/train_synthetic.txt', pack, batches=1, batch_size=2, warmup=0
    )
    assert result['per_sample_ms'] > 0 and result['packed_ms'] > 0
    assert result['ratio'] == pytest.approx(result['per_sample_ms'] / result['packed_ms'])


def test_pack_of_another_split_refused(split, capsys):
    root, pack = split
    status = run_tool(
        'benchmarks/bench_data.py',
        '--data-root',
        root,
        '--split',
        'img_idx/test_synthetic.txt',
        '--pack-file',
        pack,
        '--batches',
        1,
    )
    assert status != 0
    assert 'test_synthetic.txt' in capsys.readouterr().err
