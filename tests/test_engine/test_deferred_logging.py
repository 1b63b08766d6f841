"""Deferred training log: the MessageHub history MMEngine's hook makes, read once per log line."""

import glob
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

import mmgsacp  # noqa: F401  (registers the hook and the wrapper)
from mmgsacp.engine.hooks import DeferredRuntimeInfoHook
from mmgsacp.engine.optimizers import BF16AutocastOptimWrapper, DeferredLogOptimWrapper
from mmgsacp.utils.deferred_scalars import DeferredScalars, deferred_scalars_of
from mmgsacp.utils.sync_counter import SyncCounter

from ..utils import synthetic_root, tiny_config

INTERVAL = 3
LOG_KEYS = ('train/loss', 'train/loss_a', 'train/acc', 'train/step', 'train/grad_norm')


class _Loader:
    """What the hooks read of a train dataloader: its length and its dataset."""

    def __init__(self, length):
        self.length = length
        self.dataset = SimpleNamespace(metainfo=dict(classes=('background', 'target')))

    def __len__(self):
        return self.length


class _Pair:
    """A runtime-info hook, an optimizer wrapper on a small seeded model and a fake runner
    with its own MessageHub and a LoggerHook every ``INTERVAL`` iterations."""

    def __init__(self, name, hook, wrapper_type, epoch_len=100):
        self.hub = MessageHub.get_instance(name)  # the current hub: the wrapper logs into it
        torch.manual_seed(0)
        self.model = nn.Linear(4, 2)
        self.optim = wrapper_type(
            optimizer=torch.optim.SGD(self.model.parameters(), lr=0.1),
            clip_grad=dict(max_norm=0.5),
        )
        self.hook = hook
        self.runner = SimpleNamespace(
            message_hub=self.hub,
            hooks=[hook, LoggerHook(interval=INTERVAL)],
            train_dataloader=_Loader(epoch_len),
            epoch=0,
            iter=0,
            max_epochs=1,
            max_iters=epoch_len,
        )

    def step(self, i, data):
        """One iteration: a clipped update (the norm logged by the wrapper), then the hook
        with the log values (tensors of several dtypes and a plain number)."""
        self.runner.iter = i
        loss_a = (self.model(data) ** 2).mean()
        loss = loss_a * 2
        self.optim.update_params(loss)
        outputs = dict(
            loss=loss,
            loss_a=loss_a.to(torch.bfloat16),
            acc=torch.tensor(i % 2 == 0),
            step=torch.tensor(i, dtype=torch.long),
        )
        self.hook.after_train_iter(self.runner, i, outputs=outputs)

    def history(self):
        scalars = self.hub.log_scalars
        return {
            k: (scalars[k].data[0].tolist(), scalars[k].data[1].tolist())
            for k in LOG_KEYS
            if k in scalars
        }


def _pairs(tag, **kwargs):
    stock = _Pair(f'stock_{tag}', RuntimeInfoHook(), OptimWrapper, **kwargs)
    deferred = _Pair(
        f'deferred_{tag}', DeferredRuntimeInfoHook(), DeferredLogOptimWrapper, **kwargs
    )
    for pair in (stock, deferred):
        pair.hook.before_train(pair.runner)
    return stock, deferred


def _batches(n):
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(3, 4, generator=gen) for _ in range(n)]


def test_history_matches_mmengine_at_each_log_line_and_at_a_run_end_between_them():
    stock, deferred = _pairs('history')
    for i, data in enumerate(_batches(8)):  # log lines after iterations 3 and 6; ends at 8
        stock.step(i, data)
        deferred.step(i, data)
        if (i + 1) % INTERVAL == 0:
            assert deferred.history() == stock.history()
    assert deferred.history() != stock.history()  # iterations 7 and 8 wait on the device
    for pair in (stock, deferred):
        pair.hook.after_train(pair.runner)
    history = deferred.history()
    assert history == stock.history()
    assert set(history) == set(LOG_KEYS)
    assert all(len(values) == 8 and counts == [1.0] * 8 for values, counts in history.values())
    # the same window means the log prints, and the Python types .item() gives
    for key in LOG_KEYS:
        assert deferred.hub.get_scalar(key).mean(INTERVAL) == stock.hub.get_scalar(key).mean(
            INTERVAL
        )
    assert deferred_scalars_of(deferred.hub) is None  # detached: pushes are immediate again


def test_end_of_epoch_is_a_read_point():
    stock, deferred = _pairs('epoch', epoch_len=4)  # the LoggerHook logs after iteration 4 too
    for i, data in enumerate(_batches(4)):
        stock.step(i, data)
        deferred.step(i, data)
    assert deferred.history() == stock.history()


def test_no_sync_between_log_lines_and_one_at_a_log_line():
    _, deferred = _pairs('syncs')
    data = _batches(INTERVAL)
    for i in range(INTERVAL - 1):
        with SyncCounter(device='cpu', sites=True) as syncs:
            deferred.step(i, data[i])
        assert syncs.total == 0, syncs.by_site()
    with SyncCounter(device='cpu', sites=True) as syncs:
        deferred.step(INTERVAL - 1, data[-1])
    assert syncs.total == 1, syncs.by_site()
    assert syncs.by_kind() == {'tolist': 1}


def test_stock_push_without_the_hook():
    """The wrapper logs the norm at once when no deferring hook runs (MMEngine's behaviour)."""
    hub = MessageHub.get_instance('no_deferring_hook')
    model = nn.Linear(4, 2)
    optim = BF16AutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), clip_grad=dict(max_norm=0.5)
    )
    with optim.optim_context(model):
        loss = model(torch.ones(2, 4)).float().pow(2).mean()
    optim.update_params(loss)
    assert len(hub.get_scalar('train/grad_norm').data[0]) == 1


def test_interval_must_match_the_logger():
    _, deferred = _pairs('interval')
    hook = DeferredRuntimeInfoHook(interval=INTERVAL + 1)
    with pytest.raises(ValueError, match='LoggerHook interval 3'):
        hook.before_train(deferred.runner)
    with pytest.raises(ValueError, match='interval must be >= 1'):
        DeferredRuntimeInfoHook(interval=0)


def test_deferred_scalars_reject_what_the_hub_cannot_store():
    scalars = DeferredScalars()
    with pytest.raises(ValueError, match="'train/map'.*shape \\(2,\\)"):
        scalars.add('train/map', torch.zeros(2))
    with pytest.raises(TypeError, match="'train/name'.*str"):
        scalars.add('train/name', 'x')
    scalars.add('train/a', torch.tensor([[1.5]]))
    scalars.add('train/b', 2)
    scalars.add('train/c', np.float32(0.25))
    assert scalars.read() == [('train/a', 1.5), ('train/b', 2), ('train/c', np.float32(0.25))]
    assert len(scalars) == 0


@pytest.fixture(scope='module')
def syn_root(tmp_path_factory):
    return synthetic_root(tmp_path_factory, num_train=8, num_test=2, seed=5)


def _train(syn_root, work_dir, stock):
    # 7 iterations, a log line every 3, checkpoints after 4 (between log lines) and 7 (the end)
    cfg = tiny_config(
        'full_sup/full-sup_1k_sirst3.py',
        syn_root,
        work_dir,
        iters=7,
        batch=2,
        crop=32,
        val=False,
        checkpoint_interval=4,
    )
    cfg.default_hooks.logger.interval = INTERVAL
    # MMEngine keeps one message hub and visualizer per name: a name of this run's own
    name = f'deferred_log_{osp.basename(osp.dirname(work_dir))}_{osp.basename(work_dir)}'
    cfg.experiment_name = cfg.visualizer.name = name
    if stock:
        cfg.default_hooks.runtime_info = dict(type='RuntimeInfoHook')
        cfg.optim_wrapper.type = 'OptimWrapper'
    runner = Runner.from_cfg(cfg)
    runner.train()
    kinds = {type(h).__name__ for h in runner.hooks} | {type(runner.optim_wrapper).__name__}
    assert ('DeferredRuntimeInfoHook' in kinds) != stock
    assert ('DeferredLogOptimWrapper' in kinds) != stock
    (log,) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(log) as f:
        lines = [json.loads(line) for line in f]
    hub = runner.message_hub.log_scalars
    ckpt = torch.load(osp.join(work_dir, 'iter_4.pth'), map_location='cpu', weights_only=True)
    return lines, hub, ckpt['message_hub']['log_scalars']


@pytest.mark.slow
def test_runner_logs_the_same_losses_as_mmengines_hook(syn_root, tmp_path, one_torch_thread):
    stock_lines, stock_hub, _ = _train(syn_root, str(tmp_path / 'stock'), stock=True)
    lines, hub, ckpt_scalars = _train(syn_root, str(tmp_path / 'deferred'), stock=False)
    assert [line['iter'] for line in lines] == [3, 6]
    keys = ['loss', 'decode.loss_bce', 'decode.loss_softiou', 'grad_norm', 'lr']
    assert [{k: line[k] for k in keys} for line in lines] == [
        {k: line[k] for k in keys} for line in stock_lines
    ]
    for key in ('train/loss', 'train/grad_norm'):
        assert hub[key].data[0].tolist() == stock_hub[key].data[0].tolist()
        assert len(hub[key].data[0]) == 7  # the 7th, after the last log line, is kept
    # the checkpoint written between two log lines holds its four iterations
    saved = ckpt_scalars['train/loss']
    assert saved['log'] == hub['train/loss'].data[0][:4].tolist()
