"""The inference benchmark's report: interleaved rounds and the throughput ratio."""
import json

import pytest

from mmgsacp.benchmarks.inference import benchmark_inference, format_report, throughput_ratio

from ..utils import run_tool


def test_ratio_by_hand():
    fast = dict(images_per_s=1 / 0.002, times_ms=[1.0, 2.0, 3.0])
    slow = dict(images_per_s=1 / 0.005, times_ms=[4.0, 4.0, 9.0])
    r = throughput_ratio(fast, slow)
    assert r['throughput_ratio_compact_over_dnanet'] == pytest.approx(2.5)
    # Round by round: 4/1, 4/2, 9/3.
    assert (r['per_round_min'], r['per_round_median'], r['per_round_max']) == (2.0, 3.0, 4.0)


def test_report_on_tiny_inputs():
    report = benchmark_inference(sizes=[32], repeats=3, warmup=1, device='cpu')
    rows = {r['network']: r for r in report['results']}
    assert set(rows) == {'CompactUNet', 'DNANet'}
    for r in rows.values():
        assert r['size'] == 32 and r['repeats'] == 3 and len(r['times_ms']) == 3
        assert r['ms_per_image'] == pytest.approx(sorted(r['times_ms'])[1])
        assert r['images_per_s'] == pytest.approx(1e3 / r['ms_per_image'])
        assert r['gflops'] > 0
    # The DNANet of the paper's usual setting and the compact network's documented size.
    assert 4.5e6 < rows['DNANet']['params'] < 4.9e6
    assert 0.4e6 < rows['CompactUNet']['params'] < 0.6e6
    (ratio,) = report['ratios']
    assert ratio['throughput_ratio_compact_over_dnanet'] == pytest.approx(
        rows['CompactUNet']['images_per_s'] / rows['DNANet']['images_per_s'])
    assert ratio['per_round_min'] <= ratio['per_round_median'] <= ratio['per_round_max']
    assert json.loads(json.dumps(report)) == report  # plain JSON types only
    assert 'round by round' in format_report(report)


def test_bad_repeats_named(capsys):
    assert run_tool('benchmarks/bench_infer.py', '--repeats', '0', '--device', 'cpu') == 2
    assert '--repeats' in capsys.readouterr().err
