"""The training-step benchmark's report, and DNANet's equal-time iteration count."""
import pytest

from mmgsacp.benchmarks.train_step import (DNANET_METHOD, METHODS, benchmark_train_step,
                                           train_step_table)

from .utils import REPO_ROOT


@pytest.mark.slow
def test_report_with_dnanet():
    result = benchmark_train_step(REPO_ROOT, iters=1, warmup=0, batch=2, dnanet=True)
    table = train_step_table(result)
    assert [line.split()[0] for line in table[1:]] == list(METHODS) + [DNANET_METHOD]
    for key in ('full_sup_ms', 'gsacp_base_ms', 'gsacp_final_ms', 'full_sup_dnanet_ms'):
        assert result[key] > 0
    assert result['ratio_base'] == pytest.approx(result['gsacp_base_ms'] / result['full_sup_ms'])
    assert result['ratio_dnanet'] == pytest.approx(
        result['full_sup_dnanet_ms'] / result['full_sup_ms'])
    assert result['dnanet_equal_time_iters'] == round(1000 / result['ratio_dnanet'])
