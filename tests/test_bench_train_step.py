"""The training-step benchmark's report, and DNANet's equal-time iteration count."""
import json
import os.path as osp
import sys

import pytest

from .utils import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
import bench_train_step  # noqa: E402


@pytest.mark.slow
def test_report_with_dnanet(tmp_path):
    out = tmp_path / 'step.json'
    result = bench_train_step.main(
        ['--iters', '1', '--warmup', '0', '--batch', '2', '--dnanet', '--json', str(out)])
    assert json.loads(out.read_text()) == result
    for key in ('full_sup_ms', 'gsacp_base_ms', 'gsacp_final_ms', 'full_sup_dnanet_ms'):
        assert result[key] > 0
    assert result['ratio_base'] == pytest.approx(result['gsacp_base_ms'] / result['full_sup_ms'])
    assert result['ratio_dnanet'] == pytest.approx(
        result['full_sup_dnanet_ms'] / result['full_sup_ms'])
    assert result['dnanet_equal_time_iters'] == round(1000 / result['ratio_dnanet'])
