"""Training steps replayed from CUDA graphs (``model.cuda_graph``): on the CPU the switch
changes nothing; on a GPU a replayed step is the eager step, and GSACP-Final's step is
captured (the GPU tests are skipped without one)."""

import copy
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.models.segmentors.cuda_graph_step import CUDAGraphTrainStep, sample_leaves

from ..utils import config_path

FULL = 'full_sup/full-sup_1k_sirst3.py'
FINAL = 'gsacp/gsacp-final_1k_sirst3.py'
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


def _models(rel, device='cpu', warmup=2, optimizer=None, dropout=None):
    """The same initial model twice: eager, and with ``cuda_graph``; and their optimizers
    (the config's, unfused, or ``optimizer``); ``dropout``: the decode head's ratio."""
    return model_pairs(rel, 'cuda_graph', (None, dict(warmup=warmup)), optimizer, device, dropout)


def switch_pairs(rel, name, values):
    """:func:`model_pairs` with an SGD optimizer (Adam would turn rounding-level gradient
    differences into steps of a learning rate), for comparing a speed switch with the
    default."""
    return model_pairs(rel, name, values, dict(type='SGD', lr=0.01, momentum=0.9))


def model_pairs(rel, name, values, optimizer=None, device='cpu', dropout=None):
    """The same initial model built with ``model.<name>`` set to each of ``values``, each
    with its optimizer (the config's, unfused, or ``optimizer``); ``dropout``: the decode
    head's ratio."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(rel))
    if 'warmup_ratio' in cfg.model.decode_head:  # outside a Runner: the warm-up in steps
        cfg.model.decode_head.update(warmup_ratio=None, warmup_iters=(0, 0))
    if dropout is not None:
        cfg.model.decode_head.dropout_ratio = dropout
    cfg.optim_wrapper.optimizer = optimizer or dict(cfg.optim_wrapper.optimizer, fused=False)
    out = []
    for value in values:
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, **{name: value})).to(device)
        model.train()
        out.append((model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))))
    return out


def assert_same_training(pair_a, pair_b, steps):
    """Train both (model, optimizer) pairs ``steps`` steps on the same batches and dropout
    draws; their logged losses, then their final weights and buffers, agree to float
    rounding.

    A tensor agrees when it is close element-wise or when the two runs' difference is under
    1 % of how far training moved it: a gradient summed over every pixel of the batch in
    another order (another layout, another thread count) differs in its last bits, and the
    first update carries that into weights of any size; a wrong step differs by its whole
    size.
    """
    (a, opt_a), (b, opt_b) = pair_a, pair_b
    start = {k: v.detach().float().clone() for k, v in a.state_dict().items()}
    for seed in range(steps):
        torch.manual_seed(seed)
        log_a = _floats(a.train_step(_batch(seed), opt_a))
        torch.manual_seed(seed)
        log_b = _floats(b.train_step(_batch(seed), opt_b))
        assert log_a.keys() == log_b.keys()
        for k in log_a:
            assert log_b[k] == pytest.approx(log_a[k], rel=1e-4, abs=1e-5), (seed, k)
    sd_a, sd_b = a.state_dict(), b.state_dict()
    assert sd_a.keys() == sd_b.keys()
    for k in sd_a:
        wa, wb = sd_a[k].float(), sd_b[k].float()
        if torch.allclose(wa, wb, atol=1e-5, rtol=1e-4):
            continue
        gap, moved = (wb - wa).norm().item(), (wa - start[k]).norm().item()
        assert gap <= 0.01 * moved, (k, gap, moved)


def _batch(seed, points=((10, 12), (30, 5)), size=64):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for b in range(2):
        img = torch.rand(1, size, size, generator=g) * 40 + 80
        mask = torch.zeros(1, size, size, dtype=torch.long)
        x, y = points[b]
        img[0, y - 1 : y + 2, x - 1 : x + 2] += 120
        mask[0, y - 1 : y + 2, x - 1 : x + 2] = 1
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=mask)
        s.gt_points = torch.tensor([[x, y]], dtype=torch.float32)
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def _params(model):
    return {k: v.detach().float().cpu() for k, v in model.state_dict().items()}


def test_sample_leaves_lists_tensor_fields_in_order_and_skips():
    s = _batch(0)['data_samples'][0]
    names = [n for n, _ in sample_leaves(s)]
    assert names == ['gt_points', 'gt_sem_seg.data']
    assert [n for n, _ in sample_leaves(s, skip=('gt_points',))] == ['gt_sem_seg.data']


def test_bad_graph_arguments_are_refused():
    with pytest.raises(ValueError, match='warmup >= 1'):
        CUDAGraphTrainStep(warmup=0)


@pytest.mark.parametrize('rel', [FULL, FINAL])
def test_switch_changes_nothing_on_the_cpu(rel):
    (eager, opt_e), (graphed, opt_g) = _models(rel)
    for seed in range(3):
        torch.manual_seed(seed)  # the heads' dropout draws
        log_e = eager.train_step(_batch(seed), opt_e)
        torch.manual_seed(seed)
        log_g = graphed.train_step(_batch(seed), opt_g)
        assert _floats(log_e) == _floats(log_g)
    assert graphed.graph_step.num_graphs == 0
    pe, pg = _params(eager), _params(graphed)
    assert all(torch.equal(pe[k], pg[k]) for k in pe)


def _sync_state(src, dst, opt_src, opt_dst):
    """Copy ``src``'s weights, buffers and optimizer state into ``dst`` in place (a graph
    keeps reading the same memory)."""
    with torch.no_grad():
        for a, b in zip(src.state_dict().values(), dst.state_dict().values()):
            b.copy_(a)
        params_src = [p for g in opt_src.optimizer.param_groups for p in g['params']]
        params_dst = [p for g in opt_dst.optimizer.param_groups for p in g['params']]
        for ps, pd in zip(params_src, params_dst):
            for key, value in opt_src.optimizer.state.get(ps, {}).items():
                if torch.is_tensor(value):
                    opt_dst.optimizer.state[pd][key].copy_(value)


@cuda
def test_a_replayed_step_is_the_eager_step():
    """From the same weights, optimizer state and batch, a replayed full-supervision step gives
    the eager step's losses and update. The states are copied across before every step: on a
    GPU two eager copies drift apart by the last bits that atomic adds leave, which Adam would
    blow up to a learning rate per step. fp32 without TF32, no dropout (no random draws)."""
    sgd = dict(type='SGD', lr=0.01, momentum=0.9)
    with torch.backends.cudnn.flags(
        enabled=True, benchmark=False, deterministic=True, allow_tf32=False
    ):
        (eager, opt_e), (graphed, opt_g) = _models(
            FULL, 'cuda', warmup=2, optimizer=sgd, dropout=0.0
        )
        for step in range(6):
            data = _batch(step)
            _sync_state(eager, graphed, opt_e, opt_g)
            log_e = _floats(eager.train_step(copy.deepcopy(data), opt_e))
            log_g = _floats(graphed.train_step(copy.deepcopy(data), opt_g))
            assert log_e.keys() == log_g.keys()
            for k in log_e:
                assert log_g[k] == pytest.approx(log_e[k], rel=1e-4, abs=1e-6), (step, k)
            pe, pg = _params(eager), _params(graphed)
            for k in pe:
                assert torch.allclose(pe[k], pg[k], atol=1e-6, rtol=1e-5), (step, k)
    counts = graphed.graph_step.counts
    assert counts['captured'] == 1 and counts['replayed'] == 3, counts
    assert opt_g._inner_count == opt_e._inner_count == 6


@cuda
def test_gsacp_final_steps_are_captured_and_train():
    """GSACP-Final (targets, EMA teacher's view, contrastive loss with random draws) is
    captured once for a recurring signature and its replays update the weights."""
    (_, _), (graphed, opt_g) = _models(FINAL, 'cuda', warmup=2)
    before = _params(graphed)
    for step in range(6):
        log = _floats(graphed.train_step(_batch(step), opt_g))
        assert all(math.isfinite(v) for v in log.values()), log
    counts = graphed.graph_step.counts
    assert counts['captured'] == 1 and counts['replayed'] == 3, counts
    after = _params(graphed)
    assert any(not torch.equal(before[k], after[k]) for k in before if 'conv_seg' in k)
    assert opt_g._inner_count == 6


def _floats(log):
    return {k: float(v.detach()) for k, v in log.items()}


def test_signature_state_is_the_students_not_the_teachers():
    (_, _), (graphed, _) = _models(FINAL)
    assert graphed.teacher is not None
    # one affinity weight: the student head's; the teacher's copy of the head is left out
    assert graphed.graph_state_key() == (graphed.decode_head.affinity_weight(),)
    graphed.monitor_request = True  # the drift monitor's step is never replayed
    assert graphed.graph_state_key() is None


def test_a_tensor_learning_rate_follows_the_schedule():
    """The graph's optimizer reads each group's rate from a tensor refilled from the
    scheduler's float before every replay: the same steps as the float rate."""
    from mmgsacp.models.segmentors.cuda_graph_step import device_learning_rates

    torch.manual_seed(0)
    start = torch.randn(5)
    params = [torch.nn.Parameter(start.clone()) for _ in range(2)]
    plain = torch.optim.AdamW([params[0]], lr=0.1, fused=True)
    tensor_lr = torch.optim.AdamW([params[1]], lr=0.1, fused=True)
    (lr,) = device_learning_rates(tensor_lr)
    assert lr.shape == () and float(lr) == pytest.approx(0.1)
    for rate in (0.1, 0.05, 0.01):  # a schedule writes floats into the groups
        for opt in (plain, tensor_lr):
            opt.param_groups[0]['lr'] = rate
        lr.fill_(tensor_lr.param_groups[0]['lr'])
        tensor_lr.param_groups[0]['lr'] = lr
        for p, opt in zip(params, (plain, tensor_lr)):
            p.grad = torch.arange(5.0) - 2
            opt.step()
        tensor_lr.param_groups[0]['lr'] = rate
    assert torch.allclose(params[0], params[1])
    assert not torch.allclose(params[0], start)
    sgd = torch.optim.SGD([torch.nn.Parameter(start.clone())], lr=0.1)
    assert device_learning_rates(sgd) == [None]  # no capturable form: the rate joins the key
