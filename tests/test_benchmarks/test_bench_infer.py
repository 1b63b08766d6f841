"""The inference benchmark's report: interleaved rounds, the ONNX Runtime column and the
throughput ratios."""

import json

import pytest

from mmgsacp.benchmarks.inference import (
    as_hw,
    benchmark_inference,
    format_report,
    size_label,
    throughput_ratio,
)

from ..utils import run_tool


def test_ratio_by_hand():
    fast = dict(
        images_per_s=1 / 0.002,
        times_ms=[1.0, 2.0, 3.0],
        ort_images_per_s=1 / 0.001,
        ort_times_ms=[1.0, 1.0, 1.0],
    )
    slow = dict(
        images_per_s=1 / 0.005,
        times_ms=[4.0, 4.0, 9.0],
        ort_images_per_s=1 / 0.004,
        ort_times_ms=[4.0, 2.0, 8.0],
    )
    r = throughput_ratio(fast, slow)
    assert r['ratio'] == pytest.approx(2.5)
    # Round by round: 4/1, 4/2, 9/3.
    assert (r['per_round_min'], r['per_round_median'], r['per_round_max']) == (2.0, 3.0, 4.0)
    r = throughput_ratio(fast, slow, 'ort')
    assert r['ratio'] == pytest.approx(4.0)
    assert (r['per_round_min'], r['per_round_median'], r['per_round_max']) == (2.0, 4.0, 8.0)


def test_sizes():
    assert as_hw(32) == (32, 32) and as_hw((512, 640)) == (512, 640)
    assert size_label((512, 640)) == '640x512' and size_label(256) == '256x256'
    for bad in (0, (512,), (512, 0), (1.5, 2)):
        with pytest.raises(ValueError, match='frame size'):
            as_hw(bad)


def test_report_on_tiny_inputs():
    report = benchmark_inference(sizes=[32], repeats=3, warmup=1, device='cpu', onnx=False)
    rows = {r['network']: r for r in report['results']}
    assert set(rows) == {'CompactUNet', 'DNANet', 'LiteUNet', 'LiteUNet-c192'}
    for r in rows.values():
        assert r['size'] == '32x32' and r['repeats'] == 3 and len(r['times_ms']) == 3
        assert r['ms_per_image'] == pytest.approx(sorted(r['times_ms'])[1])
        assert r['images_per_s'] == pytest.approx(1e3 / r['ms_per_image'])
        assert r['gflops'] > 0
        assert r['gflops_per_mpx'] == pytest.approx(r['gflops'] / (32 * 32 / 1e6))
        assert 'ort_images_per_s' not in r
    # The DNANet of the paper's usual setting and the compact network's documented size.
    assert 4.5e6 < rows['DNANet']['params'] < 4.9e6
    assert 0.4e6 < rows['CompactUNet']['params'] < 0.6e6
    # The deployment network's documented size and cost: about 3 GFLOPs per megapixel
    # against the compact network's 86.
    assert 0.08e6 < rows['LiteUNet']['params'] < 0.13e6
    assert 80 < rows['CompactUNet']['gflops_per_mpx'] < 92
    assert 2 < rows['LiteUNet']['gflops_per_mpx'] < 4
    # Its wide form: 1.7 x the parameters for about 1.2 x the FLOPs.
    assert 0.15e6 < rows['LiteUNet-c192']['params'] < 0.2e6
    assert 1.1 < rows['LiteUNet-c192']['gflops'] / rows['LiteUNet']['gflops'] < 1.3
    pairs = {(r['numerator'], r['denominator']): r for r in report['ratios']}
    assert set(pairs) == {
        ('CompactUNet', 'DNANet'),
        ('LiteUNet', 'CompactUNet'),
        ('LiteUNet-c192', 'CompactUNet'),
    }
    ratio = pairs['CompactUNet', 'DNANet']
    assert ratio['runtime'] == 'torch'
    assert ratio['ratio'] == pytest.approx(
        rows['CompactUNet']['images_per_s'] / rows['DNANet']['images_per_s']
    )
    assert ratio['per_round_min'] <= ratio['per_round_median'] <= ratio['per_round_max']
    assert json.loads(json.dumps(report)) == report  # plain JSON types only
    text = format_report(report)
    assert 'round by round' in text and 'onnxruntime: not run' in text


@pytest.mark.slow  # two ONNX exports
def test_onnxruntime_column_on_a_non_square_frame():
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    report = benchmark_inference(
        sizes=[(32, 64)],
        repeats=2,
        warmup=1,
        device='cpu',
        onnx=True,
        threads=1,
        networks=['CompactUNet', 'LiteUNet'],
    )
    assert report['env']['ort_threads'] == 1
    for r in report['results']:
        assert (r['size'], r['height'], r['width']) == ('64x32', 32, 64)
        assert len(r['ort_times_ms']) == 2
        assert r['ort_images_per_s'] == pytest.approx(1e3 / r['ort_ms_per_image'])
        assert r['ort_over_torch'] == pytest.approx(r['ort_images_per_s'] / r['images_per_s'])
    assert {r['runtime'] for r in report['ratios']} == {'torch', 'ort'}
    assert all(
        (r['numerator'], r['denominator']) == ('LiteUNet', 'CompactUNet') for r in report['ratios']
    )
    assert 'ONNX Runtime' in format_report(report)


def test_bad_arguments_named(capsys):
    assert run_tool('benchmarks/bench_infer.py', '--repeats', '0', '--device', 'cpu') == 2
    assert '--repeats' in capsys.readouterr().err
    assert run_tool('benchmarks/bench_infer.py', '--sizes', '640x', '--device', 'cpu') == 2
    assert "'640x'" in capsys.readouterr().err
    assert (
        run_tool(
            'benchmarks/bench_infer.py', '--sizes', '32', '--device', 'cpu', '--networks', 'ResNet'
        )
        == 2
    )
    assert 'ResNet' in capsys.readouterr().err
