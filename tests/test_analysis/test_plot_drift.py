"""Drift curves (mmgsacp.analysis.drift, tools/analysis_tools/plot_drift.py): several runs,
legend names."""

import json

import pytest

from mmgsacp.analysis.drift import PANELS, plot_drift, present_panels
from mmgsacp.utils.io import InputError

from ..utils import run_tool


def _run(folder, scale):
    folder.mkdir()
    rows = [
        dict(
            iter=10 * i, pseudo_iou=scale * i / 10, area_ratio=1.0, collapsed=0.0, ignore_share=0.1
        )
        for i in range(1, 8)
    ]
    (folder / 'drift.jsonl').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    return str(folder)


def test_plots_runs_with_labels_and_checks_their_count(tmp_path, capsys):
    a, b = _run(tmp_path / 'a', 1.0), _run(tmp_path / 'b', 0.5)
    out = tmp_path / 'drift.png'
    plot_drift([a, b], str(out), labels=['first', 'second'])
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(InputError, match='1 labels for 2 runs'):
        plot_drift([a, b], str(out), labels=['only'])
    with pytest.raises(InputError, match='drift.jsonl not found'):
        plot_drift([str(tmp_path)], str(out))
    out.unlink()
    assert run_tool('analysis_tools/plot_drift.py', a, '--out', out, '--smooth', '1') == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert run_tool('analysis_tools/plot_drift.py', tmp_path, '--out', out) == 2
    assert 'drift.jsonl not found' in capsys.readouterr().err


def test_panels_follow_the_logged_scalars(tmp_path):
    old = [dict(iter=10, pseudo_iou=0.5, area_ratio=1.0, collapsed=0.0, ignore_share=0.1)]
    new = [
        dict(
            old[0],
            region_core_ratio=1.2,
            band_precision=0.7,
            fp_pixels=3.0,
            target_as_background=0.1,
            negative_target_share=0.0,
        )
    ]
    keys = [key for key, _ in present_panels([old])]
    assert keys == ['pseudo_iou', 'area_ratio', 'collapsed', 'ignore_share']
    both = [key for key, _ in present_panels([old, new])]
    assert both == [key for key, _ in PANELS]  # every new scalar is drawn when one run has it
    # A scalar logged as NaN only (no band pixel accepted) gets no panel.
    nan_band = [dict(old[0], band_precision=float('nan'))]
    assert 'band_precision' not in [key for key, _ in present_panels([nan_band])]
    a, b = tmp_path / 'old', tmp_path / 'new'
    for folder, rows in ((a, old), (b, new)):
        folder.mkdir()
        (folder / 'drift.jsonl').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    out = tmp_path / 'mixed.png'
    plot_drift([str(a), str(b)], str(out), window=1)
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    (tmp_path / 'none').mkdir()
    (tmp_path / 'none' / 'drift.jsonl').write_text(json.dumps(dict(iter=10, lr=0.1)) + '\n')
    with pytest.raises(InputError, match='no drift scalar'):
        plot_drift([str(tmp_path / 'none')], str(out))
