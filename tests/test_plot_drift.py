"""Drift curves (mmgsacp.analysis.drift, tools/analysis_tools/plot_drift.py): several runs,
legend names."""
import json

import pytest

from mmgsacp.analysis.drift import plot_drift
from mmgsacp.utils.io import InputError

from .utils import run_tool


def _run(folder, scale):
    folder.mkdir()
    rows = [dict(iter=10 * i, pseudo_iou=scale * i / 10, area_ratio=1.0, collapsed=0.0,
                 ignore_share=0.1) for i in range(1, 8)]
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
