"""The training-step benchmark's report, and DNANet's equal-time iteration count."""

import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmgsacp.benchmarks.train_step import (
    DNANET_METHOD,
    METHODS,
    benchmark_train_step,
    build,
    train_iteration,
    train_step_table,
)
from mmgsacp.datasets.synthetic import make_synthetic_dataset

from ..utils import REPO_ROOT


@pytest.mark.slow
def test_report_with_dnanet():
    result = benchmark_train_step(REPO_ROOT, iters=1, warmup=0, batch=2, dnanet=True)
    table = train_step_table(result)
    assert [line.split()[0] for line in table[1:]] == list(METHODS) + [DNANET_METHOD]
    for key in ('full_sup_ms', 'gsacp_base_ms', 'gsacp_final_ms', 'full_sup_dnanet_ms'):
        assert result[key] > 0
    assert result['ratio_base'] == pytest.approx(result['gsacp_base_ms'] / result['full_sup_ms'])
    assert result['ratio_dnanet'] == pytest.approx(
        result['full_sup_dnanet_ms'] / result['full_sup_ms']
    )
    assert result['dnanet_equal_time_iters'] == round(1000 / result['ratio_dnanet'])


def test_teacher_update_is_the_configured_models(tmp_path):
    """GSACP-final's timed step updates the teacher the config builds, by its own rule."""
    root = str(tmp_path / 'synthetic')
    # 8 images in batches of 2: the counted (second) iteration does not end the loader's epoch,
    # where the LoggerHook writes a line and the log values are read
    make_synthetic_dataset(root, num_train=8, num_test=1, size=(64, 64), seed=0)
    model, optim, data, _ = build(REPO_ROOT, 'gsacp_final', root, 2)
    teacher_cfg = Config.fromfile(osp.join(REPO_ROOT, METHODS['gsacp_final'])).model.teacher
    assert model.teacher.scope == teacher_cfg['scope']
    before = model.teacher.decode_head.conv_seg.weight.clone()
    train_iteration(model, data, optim, 0)
    m = teacher_cfg['momentum']
    after = model.teacher.decode_head.conv_seg.weight
    assert not torch.equal(after, before)
    assert torch.allclose(after, (1 - m) * before + m * model.decode_head.conv_seg.weight)


@pytest.mark.slow
def test_speed_report_through_the_runner(tmp_path):
    """One method through the Runner: every key, the Runner against a bare loop, and no
    synchronisation at all in full supervision's iteration between two log lines (the loss
    terms and the gradient norm are read at log lines only)."""
    from mmgsacp.benchmarks.train_speed import KEYS, measure_method

    root = str(tmp_path / 'synthetic')
    # 8 images in batches of 2: the counted (second) iteration does not end the loader's epoch,
    # where the LoggerHook writes a line and the log values are read
    make_synthetic_dataset(root, num_train=8, num_test=1, size=(64, 64), seed=0)
    result = measure_method(REPO_ROOT, 'full_sup', root, batch=2, crop=32, iters=1, warmup=0)
    assert set(KEYS) <= set(result)
    assert result['host_ms_per_iter'] == result['ms_per_iter'] > 0
    assert result['runner_over_bare'] == pytest.approx(
        result['ms_per_iter'] / result['bare_ms_per_iter']
    )
    assert result['projected_40k_s'] > 40 * result['ms_per_iter']
    assert 'bool_index' not in result['syncs_by_kind']
    assert result['syncs_per_iter'] == 0, result['syncs_by_site']


def test_speed_table_gives_each_step_over_full_supervision_of_its_network():
    from mmgsacp.benchmarks.train_speed import speed_table

    row = dict(
        host_ms_per_iter=0.0,
        syncs_per_iter=0,
        samples_per_s=1.0,
        peak_mem_mib=1.0,
        startup_s=1.0,
        projected_40k_s=1.0,
        data_ms_per_iter=1.0,
        runner_over_bare=1.0,
    )
    results = {
        'full_sup@128': dict(row, ms_per_iter=100.0),
        'gsacp_final@128': dict(row, ms_per_iter=140.0),
        'full_sup_dnanet@128': dict(row, ms_per_iter=400.0),
        'gsacp_final_dnanet@128': dict(row, ms_per_iter=500.0),
        'gsacp_final@256': dict(row, ms_per_iter=300.0),
    }
    lines = speed_table(dict(results=results))
    ratio = {line.split()[0]: line.split()[2] for line in lines[1:]}
    assert ratio == {
        'full_sup@128': '1.00',
        'gsacp_final@128': '1.40',
        'full_sup_dnanet@128': '1.00',
        'gsacp_final_dnanet@128': '1.25',
        'gsacp_final@256': '-',
    }


def test_head_teacher_variant_changes_only_the_teachers_scope(tmp_path):
    from mmgsacp.benchmarks.train_speed import speed_config

    kwargs = dict(batch=2, crop=32, iters=1)
    full = speed_config(REPO_ROOT, 'gsacp_final', str(tmp_path), str(tmp_path / 'a'), **kwargs)
    head = speed_config(REPO_ROOT, 'gsacp_final_head', str(tmp_path), str(tmp_path / 'b'), **kwargs)
    # item access: MMEngine gives dicts from base files an attribute of its own named 'scope'
    assert full.model.teacher['scope'] == 'full' and head.model.teacher['scope'] == 'head'
    head.model.teacher['scope'] = 'full'
    assert head.model.to_dict() == full.model.to_dict()


def test_packed_graph_and_layout_options_switch_data_path_and_model(tmp_path):
    from mmgsacp.benchmarks.train_speed import speed_config

    kwargs = dict(batch=2, crop=48, iters=1)
    plain = speed_config(REPO_ROOT, 'gsacp_final', str(tmp_path), str(tmp_path / 'a'), **kwargs)
    pack = str(tmp_path / 'train.npz')
    packed = speed_config(
        REPO_ROOT,
        'gsacp_final',
        str(tmp_path),
        str(tmp_path / 'b'),
        pack_file=pack,
        switches=('cuda_graph', 'channels_last', 'compile'),
        **kwargs,
    )
    dataset = packed.train_dataloader.dataset
    assert dataset.type == 'PackedPointDataset' and dataset.pack_file == pack
    assert dataset.ann_file == plain.train_dataloader.dataset.ann_file
    pre = packed.model.data_preprocessor
    assert pre.type == 'PackedPointDataPreProcessor' and tuple(pre.crop_size) == (48, 48)
    assert pre.mean == plain.model.data_preprocessor.mean
    assert packed.model.cuda_graph is True and 'cuda_graph' not in plain.model
    assert packed.model.channels_last is True and 'channels_last' not in plain.model
    assert packed.model.compile is True and 'compile' not in plain.model
    packed.model.pop('data_preprocessor'), plain.model.pop('data_preprocessor')
    for switch in ('cuda_graph', 'channels_last', 'compile'):
        packed.model.pop(switch)
    assert packed.model.to_dict() == plain.model.to_dict()


def test_unknown_model_switch_is_refused_by_name(tmp_path):
    from mmgsacp.benchmarks.train_speed import speed_config

    with pytest.raises(KeyError, match='channel_last'):
        speed_config(
            REPO_ROOT,
            'full_sup',
            str(tmp_path),
            str(tmp_path / 'a'),
            batch=2,
            crop=32,
            iters=1,
            switches=('channel_last',),
        )
