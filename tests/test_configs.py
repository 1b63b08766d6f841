"""Every config under configs/ parses, inherits in at most three levels, and builds its model;
schedules own the lengths, rungs differ from their base in one variable, warm-ups are fractions
of the run, and any method config switches to the synthetic set."""

import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MessageHub
from mmengine.registry import HOOKS as ROOT_HOOKS
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import HOOKS, MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.engine import hooks as mmgsacp_hooks
from mmgsacp.utils.config import (
    SYNTHETIC_DATASET_CFG,
    as_cfg_options,
    dataset_options,
    synthetic_options,
    use_synthetic,
)

from .utils import REPO_ROOT

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
CONFIGS = sorted(
    p
    for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    if f'{osp.sep}_base_{osp.sep}' not in p
)
METHOD_DIRS = ('gsacp', 'full_sup', 'point_only', 'prior_only', 'lesps', 'pal')
#: <method>[_<network>]_<schedule>_<dataset>.py, words within a field joined by '-'
NAME = re.compile(
    r'^(?P<method>[a-z0-9-]+)(_(?P<net>[a-z0-9]+(-[a-z0-9]+)*))?_(?P<sched>\d+k(-time(-1t)?)?)'
    r'_(?P<data>[a-z0-9]+)\.py$'
)
SCHEDULE_ITERS = {'1k': 1000, '3k': 3000, '40k': 40000}
RUNGS = ('base', 'ema', 'hbc', 'asg', 'final')


def _load(rel: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, rel))


def _depth(path: str) -> int:
    text = open(path).read()
    match = re.search(r"_base_\s*=\s*(\[[^\]]*\]|'[^']*')", text)
    if not match:
        return 0
    bases = re.findall(r"'([^']+)'", match.group(1))
    return 1 + max(_depth(osp.normpath(osp.join(osp.dirname(path), b))) for b in bases)


def _flat(value, prefix=''):
    """Nested config -> {dotted key: leaf}; lists of dicts are indexed."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(v, f'{prefix}.{k}' if prefix else str(k)))
        return out
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flat(v, f'{prefix}[{i}]'))
        return out
    return {prefix: value}


def _diff(a: Config, b: Config) -> dict:
    """{key: (a's value, b's value)} for every leaf that differs (filename aside)."""
    fa, fb = _flat(a.to_dict()), _flat(b.to_dict())
    return {
        k: (fa.get(k), fb.get(k))
        for k in set(fa) | set(fb)
        if fa.get(k, '<absent>') != fb.get(k, '<absent>')
    }


def test_configs_by_method():
    names = {osp.relpath(p, CONFIG_DIR) for p in CONFIGS}
    assert 'gsacp_sirst3.py' in names
    assert not glob.glob(osp.join(CONFIG_DIR, 'synthetic')), 'synthetic is a dataset base'
    for folder in METHOD_DIRS:
        assert osp.isfile(osp.join(CONFIG_DIR, folder, 'README.md')), folder
    for rung in RUNGS:
        for sched in ('1k', '40k'):
            assert f'gsacp/gsacp-{rung}_{sched}_sirst3.py' in names
    expected = {
        'gsacp/gsacp-final-pullband_1k_sirst3.py',
        'gsacp/gsacp-base_3k_sirst3.py',
        'gsacp/gsacp-final_3k_sirst3.py',
        'full_sup/full-sup_1k_sirst3.py',
        'full_sup/full-sup_3k_sirst3.py',
        'full_sup/full-sup_40k_sirst3.py',
        'full_sup/full-sup_dnanet_1k_sirst3.py',
        'full_sup/full-sup_dnanet_1k-time_sirst3.py',
        'full_sup/full-sup_liteunet_1k-time_sirst3.py',
        'full_sup/full-sup_liteunet-c192_1k_sirst3.py',
        'full_sup/full-sup-ds_1k_sirst3.py',
        'full_sup/full-sup-ds_dnanet_1k_sirst3.py',
        'point_only/point-only_1k_sirst3.py',
        'point_only/point-only_40k_sirst3.py',
        'prior_only/prior-only_1k_sirst3.py',
        'prior_only/prior-only_3k_sirst3.py',
        'prior_only/prior-only_40k_sirst3.py',
        'lesps/lesps_1k_sirst3.py',
        'lesps/lesps_40k_sirst3.py',
        'pal/pal_1k_sirst3.py',
        'pal/pal_40k_sirst3.py',
        'pal/pal-coarse_1k_sirst3.py',
        'gsacp/gsacp-final-coarse_1k_sirst3.py',
        'prior_only/prior-only-coarse_1k_sirst3.py',
    }
    assert expected <= names
    for name in names - {'gsacp_sirst3.py'}:
        folder, file = name.split(osp.sep)
        match = NAME.match(file)
        assert folder in METHOD_DIRS and match, name
        assert match['method'].split('-')[0] == folder.split('_')[0], name
        assert match['data'] == 'sirst3', name


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_builds(path):
    assert _depth(path) <= 3, f'{path} inherits more than three levels'
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.dataset.data_root == 'data/SIRST3'
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        out = model._forward(torch.zeros(1, 1, 64, 64))
    assert out.shape == (1, 1, 64, 64)
    for hook in cfg.default_hooks.values():  # every hook a config names, in the mmseg scope
        assert HOOKS.get(hook['type']) is not None, hook['type']


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_schedule_owns_the_lengths(path):
    """Lengths come from the schedule the file name says; only the equal-time run sets its own."""
    match = NAME.match(osp.basename(path))
    sched = match['sched'] if match else '40k'  # configs/gsacp_sirst3.py: GSACP-Final, 40k
    cfg = Config.fromfile(path)
    schedule = Config.fromfile(
        osp.join(CONFIG_DIR, '_base_', 'schedules', f'schedule_{sched.split("-")[0]}.py')
    )
    for key in ('checkpoint', 'logger'):
        assert cfg.default_hooks[key].interval == schedule.default_hooks[key].interval
    text = open(path).read()
    if '-time' in sched:
        # A network given the compact network's training time (on 2 cores, or on one thread per
        # run: '-1t'): fewer iterations if its step costs more (DNANet), more if less (LiteUNet).
        assert cfg.train_cfg.max_iters != schedule.train_cfg.max_iters
        assert cfg.train_cfg.val_interval == cfg.train_cfg.max_iters
        return
    assert cfg.train_cfg == schedule.train_cfg
    assert 'max_iters' not in text and 'interval=250' not in text


@pytest.mark.parametrize('sched', ['1k', '40k'])
def test_ladder_is_single_variable(sched):
    """Each rung differs from the base in exactly its own remedy; Final is all three."""
    base, ema, hbc, asg, final = (_load(f'gsacp/gsacp-{r}_{sched}_sirst3.py') for r in RUNGS)
    d_ema, d_hbc, d_asg, d_final = (_diff(base, c) for c in (ema, hbc, asg, final))
    assert d_ema and all(k.startswith('model.teacher') for k in d_ema)
    assert d_hbc and all(k.startswith('model.decode_head.loss_contrast') for k in d_hbc)
    assert set(d_asg) == {'model.decode_head.target_cfg.adaptive'}
    assert base.model.decode_head.target_cfg.adaptive is False
    assert asg.model.decode_head.target_cfg.adaptive is True
    assert d_final == {**d_ema, **d_hbc, **d_asg}
    pullband = _diff(
        _load('gsacp/gsacp-final_1k_sirst3.py'), _load('gsacp/gsacp-final-pullband_1k_sirst3.py')
    )
    # the band pull is a first-form ablation: it switches the targets' rule too
    assert set(pullband) == {
        'model.decode_head.loss_contrast.pull_ignore',
        'model.decode_head.target_cfg.rule',
    }
    prior = _load(f'prior_only/prior-only_{sched}_sirst3.py')
    assert set(_diff(base, prior)) == {'model.decode_head.target_cfg.mode'}
    # point-only also trains with LESPS's focal loss instead of BCE + soft IoU
    point = _load(f'point_only/point-only_{sched}_sirst3.py')
    assert {k for k in _diff(base, point) if not k.startswith('model.decode_head.loss_decode')} == {
        'model.decode_head.target_cfg.mode'
    }
    assert [loss['type'] for loss in point.model.decode_head.loss_decode] == ['GaussianFocalLoss']


def test_rungs_are_short():
    """A rung is a few lines over its base (comments aside)."""
    for path in CONFIGS:
        code = [line for line in open(path) if line.strip() and not line.lstrip().startswith('#')]
        assert len(code) <= 15, f'{path}: {len(code)} lines'


def test_schedules_differ_only_in_lengths():
    """The 1k, 3k and 40k versions of a method are the same method."""
    lengths = {
        'train_cfg.max_iters',
        'train_cfg.val_interval',
        'default_hooks.checkpoint.interval',
        'default_hooks.logger.interval',
    }
    pairs = [(f'gsacp/gsacp-{r}_1k_sirst3.py', f'gsacp/gsacp-{r}_40k_sirst3.py') for r in RUNGS]
    pairs += [
        ('full_sup/full-sup_1k_sirst3.py', 'full_sup/full-sup_40k_sirst3.py'),
        ('full_sup/full-sup_1k_sirst3.py', 'full_sup/full-sup_3k_sirst3.py'),
        ('prior_only/prior-only_1k_sirst3.py', 'prior_only/prior-only_3k_sirst3.py'),
        ('gsacp/gsacp-final_1k_sirst3.py', 'gsacp/gsacp-final_3k_sirst3.py'),
        ('point_only/point-only_1k_sirst3.py', 'point_only/point-only_40k_sirst3.py'),
    ]
    for short, long in pairs:
        diff = set(_diff(_load(short), _load(long)))
        assert 'train_cfg.max_iters' in diff and diff <= lengths, (short, long)
    # LESPS starts at a share of the run; its update period (epochs) is set per schedule, and
    # at full length its labels are updated as its authors' code does (a whole-image pass)
    lesps = _diff(_load('lesps/lesps_1k_sirst3.py'), _load('lesps/lesps_40k_sirst3.py'))
    assert set(lesps) - lengths == {
        'default_hooks.label_evolution.interval',
        'default_hooks.label_evolution.update',
        'default_hooks.label_evolution.infer_window',
    }
    # PAL's phases are shares of the run; its period and prediction windows are per schedule
    pal = _diff(_load('pal/pal_1k_sirst3.py'), _load('pal/pal_40k_sirst3.py'))
    assert set(pal) - lengths == {
        'default_hooks.pal.interval_ratio',
        'default_hooks.pal.infer_window',
    }
    # a coarse row is its method with coarse points, nothing else
    for coarse, centroid in (
        ('pal/pal-coarse_1k_sirst3.py', 'pal/pal_1k_sirst3.py'),
        ('gsacp/gsacp-final-coarse_1k_sirst3.py', 'gsacp/gsacp-final_1k_sirst3.py'),
        ('prior_only/prior-only-coarse_1k_sirst3.py', 'prior_only/prior-only_1k_sirst3.py'),
    ):
        assert _diff(_load(centroid), _load(coarse)) == {
            'train_dataloader.dataset.point_type': ('centroid', 'coarse')
        }, coarse
    assert _diff(_load('gsacp_sirst3.py'), _load('gsacp/gsacp-final_40k_sirst3.py')) == {}


def test_one_variable_ablations():
    """The false-positive weight and the schedule ablations change that and nothing else."""
    final = _load('gsacp/gsacp-final_1k_sirst3.py')
    assert _diff(final, _load('gsacp/gsacp-final-fp4_1k_sirst3.py')) == {
        'model.decode_head.loss_contrast.fp_weight': (16.0, 4.0)
    }
    assert _diff(final, _load('gsacp/gsacp-final-pw4_1k_sirst3.py')) == {
        'model.decode_head.loss_decode[0].pos_weight': (None, 4.0)
    }
    assert _diff(final, _load('gsacp/gsacp-final-mincore_1k_sirst3.py')) == {
        'model.decode_head.target_cfg.min_core': (None, 4)
    }
    assert _diff(final, _load('gsacp/gsacp-final-fallback_1k_sirst3.py')) == {
        'model.decode_head.target_cfg.min_core': (None, 4),
        'model.decode_head.target_cfg.fallback_gates': (None, ((1.5, 0.2), (1.0, 0.15))),
    }
    pal, cosine = _load('pal/pal_1k_sirst3.py'), _load('pal/pal-cosine_1k_sirst3.py')
    assert {k.split('[')[0] for k in _diff(pal, cosine)} == {'param_scheduler'}
    assert [s['type'] for s in cosine.param_scheduler] == ['CosineAnnealingLR']
    assert cosine.param_scheduler == final.param_scheduler
    # both sides of GSACP-Final / prior-only at PAL's constant rate (the converse) and with the
    # cosine decay stopped at a fifth of the rate (between the two)
    prior = _load('prior_only/prior-only_1k_sirst3.py')
    floor = [dict(type='CosineAnnealingLR', eta_min=2e-4, by_epoch=False, begin=0)]
    for variant, schedule in (('constant', pal.param_scheduler), ('floor', floor)):
        for rel, base in (
            (f'gsacp/gsacp-final-{variant}_1k_sirst3.py', final),
            (f'prior_only/prior-only-{variant}_1k_sirst3.py', prior),
        ):
            changed = _load(rel)
            assert {k.split('[')[0] for k in _diff(base, changed)} == {'param_scheduler'}, rel
            assert changed.param_scheduler == schedule, rel
    # the loose gate's rim ignored instead of background
    assert _diff(final, _load('gsacp/gsacp-final-ignoreband_1k_sirst3.py')) == {
        'model.decode_head.target_cfg.band_steps': (0, 2),
        'model.decode_head.target_cfg.band_source': (None, 'ignore'),
    }


def _head(rel: str):
    cfg = _load(rel)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model).decode_head, cfg


@pytest.mark.parametrize(
    'rel,bounds',
    [
        ('gsacp/gsacp-base_1k_sirst3.py', (100, 400)),
        ('gsacp/gsacp-final_1k_sirst3.py', (100, 400)),
        ('gsacp/gsacp-final-pullband_1k_sirst3.py', (100, 400)),
        ('prior_only/prior-only_1k_sirst3.py', (100, 400)),
        ('point_only/point-only_1k_sirst3.py', (100, 400)),
        ('gsacp/gsacp-final_3k_sirst3.py', (300, 1200)),
        ('gsacp_sirst3.py', (4000, 16000)),
    ],
)
def test_warmup_fractions_resolve_against_max_iters(rel, bounds):
    """At 1k the fractions give the step counts the 1k configs used to state."""
    head, cfg = _head(rel)
    hub = MessageHub.get_instance(f'warmup-{rel}')
    hub.update_info('max_iters', cfg.train_cfg.max_iters)
    assert head.warmup_bounds() == bounds
    head.num_updates.fill_(bounds[0] - 1)
    assert head.affinity_weight() == 0.0
    head.num_updates.fill_((bounds[0] + bounds[1]) // 2)
    assert head.affinity_weight() == pytest.approx(0.5)
    head.num_updates.fill_(bounds[1])
    assert head.affinity_weight() == 1.0


def test_warmup_errors():
    head_cfg = _load('gsacp/gsacp-base_1k_sirst3.py').model
    init_default_scope('mmseg')
    MessageHub.get_instance('warmup-no-max-iters')  # a hub that has seen no training
    head = MODELS.build(head_cfg).decode_head
    with pytest.raises(RuntimeError, match='warmup_iters=.*warmup_ratio=None'):
        head.affinity_weight()
    both = head_cfg.copy()
    both.decode_head = dict(head_cfg.decode_head, warmup_iters=(100, 400))
    with pytest.raises(ValueError, match='not both'):
        MODELS.build(both)
    for bad in ((0.5, 0.2), (0.1, 1.5), (0.1,)):
        with pytest.raises(ValueError, match='warmup_ratio'):
            MODELS.build(dict(head_cfg, decode_head=dict(head_cfg.decode_head, warmup_ratio=bad)))
    # explicit step counts need no run length
    steps = MODELS.build(
        dict(
            head_cfg, decode_head=dict(head_cfg.decode_head, warmup_ratio=None, warmup_iters=(2, 4))
        )
    ).decode_head
    assert steps.warmup_bounds() == (2, 4)
    with pytest.raises(ValueError, match='warmup_iters'):
        MODELS.build(
            dict(
                head_cfg,
                decode_head=dict(head_cfg.decode_head, warmup_ratio=None, warmup_iters=(4, 2)),
            )
        )


@pytest.mark.parametrize(
    'rel',
    [
        'full_sup/full-sup_1k_sirst3.py',
        'lesps/lesps_1k_sirst3.py',
        'gsacp/gsacp-final_40k_sirst3.py',
        'full_sup/full-sup_dnanet_1k-time_sirst3.py',
    ],
)
def test_synthetic_switch(rel, tmp_path):
    """use_synthetic changes where the data comes from, nothing else."""
    cfg = _load(rel)
    synthetic = use_synthetic(_load(rel), str(tmp_path))
    changed = _diff(cfg, synthetic)
    assert set(changed) == {
        f'{loader}.dataset.{key}'
        for key in ('data_root', 'ann_file')
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    } | {'train_dataloader.batch_size'}
    assert synthetic.train_dataloader.dataset.ann_file == 'img_idx/train_synthetic.txt'
    assert synthetic.test_dataloader.dataset.ann_file == 'img_idx/test_synthetic.txt'
    assert synthetic.val_dataloader.dataset.data_root == str(tmp_path)
    assert synthetic.train_dataloader.batch_size == 8
    # the same switch as --cfg-options (what the tools pass to tools/train.py)
    parsed = {}  # as DictAction parses each value
    for text in synthetic_options(str(tmp_path)):
        key, value = text.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    via_options = _load(rel)
    via_options.merge_from_dict(parsed)
    assert _diff(synthetic, via_options) == {}
    # the dataset base itself, defaults included
    default = use_synthetic(_load(rel))
    assert default.train_dataloader.dataset.data_root == 'data/synthetic'
    base = Config.fromfile(SYNTHETIC_DATASET_CFG)
    assert (
        base.train_dataloader.dataset.pipeline
        == _load('full_sup/full-sup_1k_sirst3.py').train_dataloader.dataset.pipeline
    )


def test_dataset_switch_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        dataset_options(str(tmp_path / 'nowhere.py'))
    partial = tmp_path / 'partial.py'
    partial.write_text("train_dataloader = dict(dataset=dict(data_root='x'))\n")
    with pytest.raises(KeyError, match='partial.py'):
        dataset_options(str(partial))
    with pytest.raises(ValueError, match='comma'):
        as_cfg_options({'train_dataloader.dataset.data_root': 'a,b'})


def test_mmgsacp_hooks_live_in_the_mmseg_scope():
    names = [
        n
        for n in dir(mmgsacp_hooks)
        if n.endswith('Hook') and isinstance(getattr(mmgsacp_hooks, n), type)
    ]
    assert len(names) >= 6
    for name in names:
        assert HOOKS.get(name) is getattr(mmgsacp_hooks, name), name
        assert name not in ROOT_HOOKS.module_dict, name


@pytest.mark.parametrize(
    'name,base,num_aux',
    [
        ('full-sup-ds_1k_sirst3.py', 'full-sup_1k_sirst3.py', 2),
        ('full-sup-ds_dnanet_1k_sirst3.py', 'full-sup_dnanet_1k_sirst3.py', 4),
    ],
)
def test_deep_supervision_configs(name, base, num_aux):
    """Auxiliary heads train from the prior bias on; inference is the plain network's."""

    def build(file):
        cfg = _load(osp.join('full_sup', file))
        init_default_scope('mmseg')
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        return model

    model, plain = build(name), build(base)
    assert len(model.auxiliary_head) == num_aux
    prior_logit = torch.logit(torch.tensor(0.01))
    for head in model.auxiliary_head:
        assert torch.allclose(head.conv_seg.bias, prior_logit)

    samples = []
    for i in range(2):
        mask = torch.zeros(1, 32, 32, dtype=torch.long)
        mask[:, 10 + i : 14 + i, 8:12] = 1
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32), pad_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=mask)
        samples.append(sample)
    losses = model.loss(torch.randn(2, 1, 32, 32), samples)
    for k in range(num_aux):
        for term in ('loss_bce', 'loss_softiou'):
            assert torch.isfinite(losses[f'aux_{k}.{term}'])

    # What runs at test time (backbone + main head) has the plain config's parameters.
    def inference_params(m):
        return sum(p.numel() for p in m.backbone.parameters()) + sum(
            p.numel() for p in m.decode_head.parameters()
        )

    assert inference_params(model) == inference_params(plain)
    model.eval()
    with torch.no_grad():
        assert model._forward(torch.zeros(1, 1, 33, 47)).shape == (1, 1, 33, 47)


def test_dnanet_configs():
    """DNANet replaces the compact U-Net by type, under full supervision and under GSACP-Final;
    at equal time only the schedule changes."""
    full = _load('full_sup/full-sup_dnanet_1k_sirst3.py')
    assert full.model.backbone == dict(type='DNANet', in_channels=1)
    assert set(_diff(_load('full_sup/full-sup_1k_sirst3.py'), full)) == {'model.backbone.type'}
    final = _diff(
        _load('gsacp/gsacp-final_1k_sirst3.py'), _load('gsacp/gsacp-final_dnanet_1k_sirst3.py')
    )
    assert final == {'model.backbone.type': ('CompactUNet', 'DNANet')}
    short = _load('full_sup/full-sup_dnanet_1k-time_sirst3.py')
    assert set(_diff(full, short)) == {'train_cfg.max_iters', 'train_cfg.val_interval'}
    assert short.train_cfg.max_iters < full.train_cfg.max_iters


def test_liteunet_configs():
    """LiteUNet replaces the compact U-Net in the same way under full supervision and under
    GSACP-Final: backbone type and head width only."""
    full = _diff(
        _load('full_sup/full-sup_1k_sirst3.py'), _load('full_sup/full-sup_liteunet_1k_sirst3.py')
    )
    final = _diff(
        _load('gsacp/gsacp-final_1k_sirst3.py'), _load('gsacp/gsacp-final_liteunet_1k_sirst3.py')
    )
    assert full == final
    assert set(full) == {
        'model.backbone.type',
        'model.decode_head.in_channels',
        'model.decode_head.channels',
        'model.decode_head.num_convs',
    }
    assert full['model.backbone.type'] == ('CompactUNet', 'LiteUNet')
    lite = _load('full_sup/full-sup_liteunet_1k_sirst3.py')
    # The equal-time run changes only its length; the wide one only the deepest level's width.
    longer = _diff(lite, _load('full_sup/full-sup_liteunet_1k-time_sirst3.py'))
    assert set(longer) == {'train_cfg.max_iters', 'train_cfg.val_interval'}
    wide = _diff(lite, _load('full_sup/full-sup_liteunet-c192_1k_sirst3.py'))
    assert set(wide) == {'model.backbone.channels'}
    both = _diff(
        _load('full_sup/full-sup_liteunet-c192_1k_sirst3.py'),
        _load('full_sup/full-sup_liteunet-c192_1k-time_sirst3.py'),
    )
    assert both == {'train_cfg.max_iters': (1000, 1600), 'train_cfg.val_interval': (1000, 1600)}
    one_thread = _diff(
        _load('full_sup/full-sup_liteunet-c192_1k_sirst3.py'),
        _load('full_sup/full-sup_liteunet-c192_1k-time-1t_sirst3.py'),
    )
    assert one_thread == {
        'train_cfg.max_iters': (1000, 4000),
        'train_cfg.val_interval': (1000, 4000),
    }


def test_lesps_pass_config_changes_only_how_labels_are_updated():
    diff = _diff(
        _load('lesps/lesps-heatmap_1k_sirst3.py'), _load('lesps/lesps-heatmap-pass_1k_sirst3.py')
    )
    assert diff == {
        'default_hooks.label_evolution.update': (None, 'pass'),
        'default_hooks.label_evolution.infer_window': (None, 64),
    }
