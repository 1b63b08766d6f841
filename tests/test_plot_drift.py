"""tools/plot_drift.py: curves of several runs, legend names."""
import json
import os.path as osp
import sys

import pytest

from .utils import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
import plot_drift  # noqa: E402


def _run(folder, scale):
    folder.mkdir()
    rows = [dict(iter=10 * i, pseudo_iou=scale * i / 10, area_ratio=1.0, collapsed=0.0,
                 ignore_share=0.1) for i in range(1, 8)]
    (folder / 'drift.jsonl').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    return str(folder)


def test_plots_runs_with_labels_and_checks_their_count(tmp_path):
    a, b = _run(tmp_path / 'a', 1.0), _run(tmp_path / 'b', 0.5)
    out = tmp_path / 'drift.png'
    plot_drift.main([a, b, '--labels', 'first', 'second', '--out', str(out)])
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(SystemExit, match='1 labels for 2 runs'):
        plot_drift.main([a, b, '--labels', 'only', '--out', str(out)])
    with pytest.raises(SystemExit, match='drift.jsonl not found'):
        plot_drift.main([str(tmp_path), '--out', str(out)])
