"""Shared fixtures. The real SIRST3 benchmark is read in place from ``../shared/data/SIRST3``
(relative to the repository root), or from ``$SIRST3_ROOT`` when set."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _sirst3_root() -> Path:
    env = os.environ.get('SIRST3_ROOT')
    return Path(env) if env else REPO_ROOT.parent / 'shared' / 'data' / 'SIRST3'


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def sirst3_root() -> Path:
    root = _sirst3_root()
    if not (root / 'img_idx' / 'train_SIRST3.txt').is_file():
        pytest.skip(f'SIRST3 not found at {root} (set SIRST3_ROOT)')
    return root
