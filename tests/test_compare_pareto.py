"""tools/compare_pareto.py: methods compared at the same false-alarm budget."""
import json
import os.path as osp
import sys

from .utils import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
import compare_pareto  # noqa: E402

HEADER = 'threshold,min_area,mIoU,nIoU,Pd,Fa\n'


def write_sweep(folder, rows):
    folder.mkdir(parents=True)
    (folder / 'pareto.csv').write_text(HEADER + ''.join(','.join(map(str, r)) + '\n'
                                                        for r in rows))
    return folder


def test_best_within_budget_per_sweep(tmp_path, capsys):
    # A: higher mIoU at every Fa it reaches; B: reaches lower Fa only.
    a = write_sweep(tmp_path / 'a' / 'pareto', [
        (0.5, 0, 45.0, 55.0, 91.0, 230.0), (0.9, 0, 48.0, 57.0, 90.0, 180.0),
        (0.9, 2, 49.0, 57.0, 89.0, 90.0)])  # another min_area: ignored by default
    b = write_sweep(tmp_path / 'b', [
        (0.5, 0, 44.0, 54.0, 93.0, 150.0), (0.9, 0, 44.5, 54.0, 92.0, 110.0),
        (0.95, 0, 44.5, 53.0, 91.0, 100.0)])
    out = tmp_path / 'cmp.json'
    png = tmp_path / 'cmp.png'
    assert compare_pareto.main([str(a), str(b / 'pareto.csv'), '--fa', '200', '120',
                                '--json', str(out), '--out', str(png)]) == 0
    best = json.loads(out.read_text())['best']
    assert set(best) == {'a', 'b'}  # labels from folder names, 'pareto' skipped
    assert best['a']['200']['threshold'] == 0.9 and best['a']['200']['mIoU'] == 48.0
    assert best['a']['120'] is None
    # Equal mIoU: the lower Fa wins.
    assert best['b']['200']['Fa'] == 100.0 and best['b']['120']['threshold'] == 0.95
    assert '(lowest Fa 180.0)' in capsys.readouterr().out
    assert png.stat().st_size > 0
    assert compare_pareto.main([str(a), str(b), '--fa', '200', '--out', str(png), '--groups',
                                'm', 'm']) == 0
    assert compare_pareto.main([str(a), '--fa', '100', '--min-area', '2', '--json',
                                str(out)]) == 0
    assert json.loads(out.read_text())['best']['a']['100']['mIoU'] == 49.0
    # The detection view: highest Pd within the budget.
    assert compare_pareto.main([str(b), '--fa', '200', '--select', 'Pd', '--json',
                                str(out)]) == 0
    assert json.loads(out.read_text())['best']['b']['200']['threshold'] == 0.5


def test_bad_input_is_named(tmp_path, capsys):
    a = write_sweep(tmp_path / 'a', [(0.5, 0, 45.0, 55.0, 91.0, 230.0)])
    assert compare_pareto.main([str(tmp_path / 'none'), '--fa', '1']) == 2
    assert 'none' in capsys.readouterr().err
    assert compare_pareto.main([str(a), '--fa', '1', '--min-area', '4']) == 2
    assert 'no rows with min_area 4' in capsys.readouterr().err
    assert compare_pareto.main([str(a), str(a), '--fa', '1']) == 2
    assert 'labels must differ' in capsys.readouterr().err
    assert compare_pareto.main([str(a), '--fa', '1', '--labels', 'x', 'y']) == 2
    assert '2 --labels for 1 sweeps' in capsys.readouterr().err
    assert compare_pareto.main([str(a), '--fa', '1', '--groups', 'x', 'y']) == 2
    assert '2 --groups for 1 sweeps' in capsys.readouterr().err
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'pareto.csv').write_text('threshold,mIoU\n0.5,oops\n')
    assert compare_pareto.main([str(bad), '--fa', '1']) == 2
    assert 'not a sweep' in capsys.readouterr().err
