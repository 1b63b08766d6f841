"""The packed-size bench: MED residuals, entropy figures and lossless round trips."""

import json

import numpy as np
import pytest

from mmgsacp.benchmarks.pack_size import entropy_bits, measure_codecs, med_residuals
from mmgsacp.datasets import make_synthetic_dataset

from ..utils import run_tool


def test_med_predicts_planes_and_edges_exactly():
    rows, cols = np.mgrid[0:12, 0:16]
    plane = (3 * rows - 2 * cols + 100).astype(np.uint8)
    res, _ = med_residuals(plane)
    assert not res[1:, 1:].any()  # a + b - c where c lies between a and b: exact on this plane
    edge = np.where(cols >= 8, 200, 10).astype(np.uint8)
    res, act = med_residuals(edge)
    assert not res[1:].any()  # the vertical edge is predicted from above
    assert act[1:, 7:9].max() > 0 and not act[1:, :6].any()


def test_residuals_decode_causally():
    """A decoder that sees only the pixels before each one (raster order) gets the image back."""
    img = np.random.default_rng(0).integers(0, 256, (9, 11)).astype(np.uint8)
    res, _ = med_residuals(img)
    out = np.zeros(img.shape, np.int32)
    for r in range(img.shape[0]):
        for c in range(img.shape[1]):
            if r == 0:
                pred = out[0, c - 1] if c else 0
            elif c == 0:
                pred = out[r - 1, 0]
            else:
                a, b, cc = out[r, c - 1], out[r - 1, c], out[r - 1, c - 1]
                hi, lo = max(a, b), min(a, b)
                pred = lo if cc >= hi else hi if cc <= lo else a + b - cc
            out[r, c] = pred + res[r, c]
    assert np.array_equal(out, img)


def test_entropy_of_known_distributions():
    values = np.tile(np.arange(4), 25)
    assert entropy_bits(values) == pytest.approx(2.0)
    assert entropy_bits(values, contexts=values) == pytest.approx(0.0)
    assert entropy_bits(values, contexts=values % 2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='contexts'):
        entropy_bits(values, contexts=values[:3])


def test_every_codec_round_trips_exactly():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (20, 24)).astype(np.uint8), np.full((8, 8), 9, np.uint8)]
    result = measure_codecs(images)
    assert len(result) == 6
    for name, row in result.items():
        assert row['exact'], name
        assert row['ratio'] == pytest.approx(row['bytes'] / (20 * 24 + 64))
    with pytest.raises(ValueError, match='unknown codec'):
        measure_codecs(images, ['gzip-99'])


def test_cli_writes_the_table(tmp_path, capsys):
    root = tmp_path / 'set'
    make_synthetic_dataset(root, num_train=4, num_test=1, size=(32, 32), seed=3)
    out = tmp_path / 'size.json'
    status = run_tool(
        'benchmarks/bench_pack_size.py',
        root,
        '--split',
        'img_idx/train_synthetic.txt',
        '--every',
        2,
        '--codecs',
        'PNG (level 9)',
        '--json',
        out,
    )
    assert status == 0
    data = json.loads(out.read_text())
    assert (data['sampled_images'], data['images'], data['pixels']) == (2, 4, 4 * 32 * 32)
    assert [r['coder'] for r in data['rows']][-1] == 'PNG (level 9)'
    assert '| PNG (level 9) |' in capsys.readouterr().out
