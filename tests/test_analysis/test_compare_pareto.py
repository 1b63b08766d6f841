"""Methods compared at the same false-alarm budget (mmgsacp.analysis.compare,
tools/analysis_tools/compare_pareto.py)."""

import json

import pytest

from mmgsacp.analysis.compare import best_per_budget, load_sweeps
from mmgsacp.utils.io import InputError

from ..utils import run_tool

TOOL = 'analysis_tools/compare_pareto.py'

HEADER = 'threshold,min_area,mIoU,nIoU,Pd,Fa\n'


def write_sweep(folder, rows):
    folder.mkdir(parents=True)
    (folder / 'pareto.csv').write_text(HEADER + ''.join(','.join(map(str, r)) + '\n' for r in rows))
    return folder


def test_best_within_budget_per_sweep(tmp_path, capsys):
    # A: higher mIoU at every Fa it reaches; B: reaches lower Fa only.
    a = write_sweep(
        tmp_path / 'a' / 'pareto',
        [
            (0.5, 0, 45.0, 55.0, 91.0, 230.0),
            (0.9, 0, 48.0, 57.0, 90.0, 180.0),
            (0.9, 2, 49.0, 57.0, 89.0, 90.0),
        ],
    )  # another min_area: ignored by default
    b = write_sweep(
        tmp_path / 'b',
        [
            (0.5, 0, 44.0, 54.0, 93.0, 150.0),
            (0.9, 0, 44.5, 54.0, 92.0, 110.0),
            (0.95, 0, 44.5, 53.0, 91.0, 100.0),
        ],
    )
    out = tmp_path / 'cmp.json'
    png = tmp_path / 'cmp.png'
    assert (
        run_tool(TOOL, a, b / 'pareto.csv', '--fa', '200', '120', '--json', out, '--out', png) == 0
    )
    best = json.loads(out.read_text())['best']
    assert set(best) == {'a', 'b'}  # labels from folder names, 'pareto' skipped
    assert best['a']['200']['threshold'] == 0.9 and best['a']['200']['mIoU'] == 48.0
    assert best['a']['120'] is None
    # Equal mIoU: the lower Fa wins.
    assert best['b']['200']['Fa'] == 100.0 and best['b']['120']['threshold'] == 0.95
    assert '(lowest Fa 180.0)' in capsys.readouterr().out
    assert png.stat().st_size > 0
    assert run_tool(TOOL, a, b, '--fa', '200', '--out', png, '--groups', 'm', 'm') == 0
    best = best_per_budget(load_sweeps([str(a)], min_area=2), [100])
    assert best['a']['100'].mIoU == 49.0
    # The detection view: highest Pd within the budget.
    best = best_per_budget(load_sweeps([str(b)]), [200], select='Pd')
    assert best['b']['200'].threshold == 0.5


def test_bad_input_is_named(tmp_path, capsys):
    a = write_sweep(tmp_path / 'a', [(0.5, 0, 45.0, 55.0, 91.0, 230.0)])
    with pytest.raises(InputError, match='none'):
        load_sweeps([str(tmp_path / 'none')])
    with pytest.raises(InputError, match='no rows with min_area 4'):
        load_sweeps([str(a)], min_area=4)
    with pytest.raises(InputError, match='labels must differ'):
        load_sweeps([str(a), str(a)])
    with pytest.raises(InputError, match='2 --labels for 1 sweeps'):
        load_sweeps([str(a)], labels=['x', 'y'])
    with pytest.raises(InputError, match='2 --groups for 1 sweeps'):
        load_sweeps([str(a)], groups=['x', 'y'])
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'pareto.csv').write_text('threshold,mIoU\n0.5,oops\n')
    with pytest.raises(InputError, match='not a sweep'):
        load_sweeps([str(bad)])
    # The tool reports the same errors with exit status 2.
    assert run_tool(TOOL, bad, '--fa', '1') == 2
    assert 'error: ' in capsys.readouterr().err
