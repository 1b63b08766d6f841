"""Mean, spread and paired differences of benchmark results over repeated runs."""

import json

import pytest

from mmgsacp.analysis.aggregate import aggregate, load_runs, markdown
from mmgsacp.utils.io import InputError

from ..utils import run_tool


def _entry(miou, fa, split='SIRST3'):
    return {split: dict(mIoU=miou, nIoU=miou + 10, Pd=90.0, Fa=fa), 'train_s': 1.0}


RUNS = [  # three seeds; 'b' is always 'a' + 1 mIoU, 'c' is missing from the last run
    {'a': _entry(40.0, 200.0), 'b': _entry(41.0, 150.0), 'c': _entry(50.0, 100.0)},
    {'a': _entry(44.0, 220.0), 'b': _entry(45.0, 170.0), 'c': _entry(52.0, 100.0)},
    {'a': _entry(48.0, 240.0), 'b': _entry(49.0, 190.0)},
]


def test_mean_and_sample_spread():
    s = aggregate(RUNS)
    assert list(s) == ['a', 'b', 'c']
    assert s['a']['n'] == 3 and s['c']['n'] == 2
    assert s['a']['mIoU']['mean'] == pytest.approx(44.0)
    assert s['a']['mIoU']['sd'] == pytest.approx(4.0)  # sample sd of 40, 44, 48
    assert (s['a']['mIoU']['min'], s['a']['mIoU']['max']) == (40.0, 48.0)
    assert s['c']['nIoU']['mean'] == pytest.approx(61.0)


def test_paired_differences_remove_the_shared_spread():
    s = aggregate(RUNS, methods=['b', 'c'], ref='a')
    assert list(s) == ['b', 'c']
    assert s['b']['n_paired'] == 3
    assert s['b']['d_mIoU']['mean'] == pytest.approx(1.0)
    assert s['b']['d_mIoU']['sd'] == pytest.approx(0.0)  # 'b' alone spreads by 4
    assert s['b']['d_Fa']['mean'] == pytest.approx(-50.0)
    assert s['c']['n_paired'] == 2  # only the runs holding both
    assert s['c']['d_mIoU']['mean'] == pytest.approx(9.0)
    table = markdown(s, 'SIRST3', 'a')
    assert '| b | 3 | 45.00 ± 4.00 |' in table and '1.00 ± 0.00 (n=3)' in table


def test_one_run_has_no_spread_and_other_splits_are_kept_apart():
    runs = [{'a': {**_entry(40.0, 1.0), **_entry(30.0, 2.0, split='NUAA-SIRST')}}]
    s = aggregate(runs, split='NUAA-SIRST')
    assert s['a']['mIoU']['mean'] == 30.0 and s['a']['mIoU']['sd'] != s['a']['mIoU']['sd']
    assert '| a | 1 | 30.00 |' in markdown(s, 'NUAA-SIRST')


def test_unknown_method_or_reference_names_what_exists():
    with pytest.raises(InputError, match='no SIRST3 results for z; found: a, b, c'):
        aggregate(RUNS, methods=['a', 'z'])
    with pytest.raises(InputError, match='for z'):
        aggregate(RUNS, ref='z')


def test_cli_reads_folders_and_files_and_writes_outputs(tmp_path, capsys):
    paths = []
    for i, run in enumerate(RUNS):
        folder = tmp_path / f'seed{i}'
        folder.mkdir()
        (folder / 'quality.json').write_text(json.dumps(run))
        paths.append(str(folder) if i else str(folder / 'quality.json'))
    out, js = tmp_path / 's.md', tmp_path / 's.json'
    assert (
        run_tool(
            'analysis_tools/aggregate_quality.py',
            *paths,
            '--methods',
            'a b',
            '--ref',
            'a',
            '--out',
            out,
            '--json',
            js,
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed == out.read_text() and '| a | 3 | 44.00 ± 4.00 |' in printed
    assert json.loads(js.read_text())['b']['d_Fa']['mean'] == pytest.approx(-50.0)


def test_bad_runs_name_the_file(tmp_path, capsys):
    with pytest.raises(InputError, match=f'no results at {tmp_path}/none/quality.json'):
        load_runs([str(tmp_path / 'none')])
    (tmp_path / 'cut').mkdir()
    (tmp_path / 'cut' / 'quality.json').write_text('{"a": ')
    with pytest.raises(InputError, match='cut/quality.json is not valid JSON'):
        load_runs([str(tmp_path / 'cut')])
    assert run_tool('analysis_tools/aggregate_quality.py', tmp_path / 'cut') == 2
    assert capsys.readouterr().err.startswith('error: ')
