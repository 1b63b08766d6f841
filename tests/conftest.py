"""Shared fixtures. The real SIRST3 benchmark is read in place: from ``$SIRST3_ROOT`` when set,
else from ``data/SIRST3`` (the configs' link, ``make data``), else from ``../shared/data/SIRST3``
beside the repository."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _sirst3_root() -> Path:
    env = os.environ.get('SIRST3_ROOT')
    if env:
        return Path(env)
    linked = REPO_ROOT / 'data' / 'SIRST3'
    if (linked / 'img_idx').is_dir():
        return linked
    return REPO_ROOT.parent / 'shared' / 'data' / 'SIRST3'


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def sirst3_root() -> Path:
    root = _sirst3_root()
    if not (root / 'img_idx' / 'train_SIRST3.txt').is_file():
        pytest.skip(f'SIRST3 not found at {root} (set SIRST3_ROOT)')
    return root


@pytest.fixture(scope='module')
def one_torch_thread():
    """One intra-op thread for a module's tests: tiny convolutions gain nothing from threads,
    and on a loaded machine spinning OpenMP workers make them several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
