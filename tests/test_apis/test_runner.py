"""The config of a train or test run: ``--cfg-options``, launcher and work folder."""

import os.path as osp

import pytest

from mmgsacp.apis.runner import load_run_config
from mmgsacp.utils.io import InputError

from ..utils import config_path

CONFIG = config_path('gsacp/gsacp-final_1k_sirst3.py')


def test_work_dir_from_the_command_line_else_the_config_else_its_name(tmp_path):
    cfg = load_run_config(CONFIG, None, None, 'none')
    assert cfg.launcher == 'none'
    assert cfg.work_dir == osp.join('./work_dirs', 'gsacp-final_1k_sirst3')
    cfg = load_run_config(CONFIG, ['work_dir=from_config'], None, 'pytorch')
    assert (cfg.work_dir, cfg.launcher) == ('from_config', 'pytorch')
    cfg = load_run_config(
        CONFIG, ['work_dir=from_config', 'train_cfg.max_iters=7'], str(tmp_path), 'none'
    )
    assert cfg.work_dir == str(tmp_path) and cfg.train_cfg.max_iters == 7


def test_bad_options_name_the_key():
    with pytest.raises(InputError, match='trian_cfg.*did you mean train_cfg'):
        load_run_config(CONFIG, ['trian_cfg.max_iters=7'], None, 'none')
    with pytest.raises(InputError, match='config file not found'):
        load_run_config(CONFIG + '.missing', None, None, 'none')
