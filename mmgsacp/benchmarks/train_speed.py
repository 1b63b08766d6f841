"""Training speed of a method as MMEngine's Runner trains it, against a bare PyTorch loop.

For each method (full supervision, prior-only, GSACP-Final; compact network or DNANet) one
short run of the real config on a small generated set, through ``Runner.train()`` with every
hook of the config, gives:

* ``startup_s``: building the runner and model plus the first step;
* ``ms_per_iter``: median wall time of one iteration (hooks included, data loading not);
* ``host_ms_per_iter``: the part the Python side spends before the device's work is queued
  (on CUDA, the iteration's time before the final synchronisation; on CPU nothing is queued,
  so it equals ``ms_per_iter``);
* ``syncs_per_iter``: host-device synchronisations of one iteration (:class:`SyncCounter`: on
  CPU the calls that would synchronise on a GPU, on CUDA the device's own count), with
  ``syncs_by_kind`` and ``syncs_by_site`` (``file:line`` -> count) beside it;
* ``samples_per_s``, ``peak_mem_mib``, ``projected_40k_s``;
* ``data_ms_per_iter``: the training dataloader's time per batch on its own;
* ``runner_over_bare``: ``ms_per_iter`` over the median step of a bare loop (preprocessing,
  forward, loss, backward, gradient clipping, optimizer step, EMA teacher update) on a freshly
  built copy of the same model and the same batches, measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import os.path as osp
import resource
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.loops import IterBasedTrainLoop
from mmseg.registry import MODELS

import mmgsacp  # noqa: F401  (registers the modules the configs name)
from mmgsacp.datasets import make_synthetic_dataset, pack_split
from mmgsacp.utils.config import use_gpu_fast, use_synthetic
from mmgsacp.utils.io import write_json
from mmgsacp.utils.sync_counter import SyncCounter

from .train_step import benchmark_train_step, cpu_budget_iters, train_step_table

#: method -> config, relative to the repository root.
SPEED_METHODS = {
    'full_sup': 'configs/full_sup/full-sup_1k_sirst3.py',
    'prior_only': 'configs/prior_only/prior-only_1k_sirst3.py',
    'gsacp_final': 'configs/gsacp/gsacp-final_1k_sirst3.py',
    # Final with the 'head'-scope teacher (the teacher reuses the student's backbone features)
    'gsacp_final_head': 'configs/gsacp/gsacp-final_1k_sirst3.py',
}
#: method -> config options over its config (the teacher's scope; nothing else changes).
SPEED_OPTIONS = {'gsacp_final_head': dict(model=dict(teacher=dict(scope='head')))}
DNANET_BACKBONE = dict(type='DNANet')
#: Model switches the benchmark can turn on (``model.<name> = True``), each off by default:
#: training steps replayed from CUDA graphs, the network stored channels-last, the backbone
#: compiled in training.
MODEL_SWITCHES = ('cuda_graph', 'channels_last', 'compile')
#: The dataset base whose packed dataset and data preprocessor ``--packed`` takes.
PACKED_BASE = osp.join('configs', '_base_', 'datasets', 'sirst3_packed.py')
PROJECTED_ITERS = 40000
#: The generated set's training split (what ``--packed`` packs).
SYNTHETIC_TRAIN_SPLIT = 'img_idx/train_synthetic.txt'
KEYS = (
    'ms_per_iter',
    'host_ms_per_iter',
    'syncs_per_iter',
    'samples_per_s',
    'peak_mem_mib',
    'startup_s',
    'projected_40k_s',
    'data_ms_per_iter',
    'runner_over_bare',
)


def speed_config(
    root: str,
    method: str,
    data_root: str,
    work_dir: str,
    *,
    batch: int,
    crop: int,
    iters: int,
    amp: bool = False,
    dnanet: bool = False,
    device: str = 'cpu',
    pack_file: Optional[str] = None,
    switches: Sequence[str] = (),
) -> Config:
    """``method``'s config on the generated set, for an ``iters``-step run without validation
    or checkpoints (their cost is not the step's); hooks, optimizer and model as configured.

    With ``pack_file`` (the generated training split packed, :func:`pack_split`) the config
    trains from memory as ``configs/_base_/datasets/sirst3_packed.py`` does: indices from
    :class:`PackedPointDataset`, crops and flips by :class:`PackedPointDataPreProcessor`.
    ``switches``: names of :data:`MODEL_SWITCHES` set to ``True`` on the model."""
    if method not in SPEED_METHODS:
        raise KeyError(f'unknown method {method!r}; one of {sorted(SPEED_METHODS)}')
    unknown = set(switches) - set(MODEL_SWITCHES)
    if unknown:
        raise KeyError(f'unknown model switches {sorted(unknown)}; one of {MODEL_SWITCHES}')
    cfg = use_synthetic(Config.fromfile(osp.join(root, SPEED_METHODS[method])), data_root)
    if pack_file is not None:
        _use_packed(cfg, root, pack_file)
    cfg.merge_from_dict(SPEED_OPTIONS.get(method, {}))
    if dnanet:
        cfg.model.backbone = dict(DNANET_BACKBONE)
    for switch in switches:
        cfg.model[switch] = True
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    # MMEngine keeps one visualizer and message hub per name: each run needs its own, or a
    # later run would write into an earlier run's (deleted) work_dir
    name = f'speed_{method}_{osp.basename(work_dir)}'
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.train_dataloader.update(batch_size=batch, num_workers=0, persistent_workers=False)
    for step in cfg.train_dataloader.dataset.pipeline:
        if 'crop_size' in step:
            step['crop_size'] = (crop, crop)
    if 'crop_size' in cfg.model.data_preprocessor:
        cfg.model.data_preprocessor.crop_size = (crop, crop)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.update(interval=iters + 1, save_last=False, save_best=None)
    # the steady state: the affinity term's warm-up is over in most of a real run
    if 'warmup_ratio' in cfg.model.decode_head:
        cfg.model.decode_head.update(warmup_ratio=None, warmup_iters=(0, 0))
    if amp:
        use_gpu_fast(cfg, fused=device == 'cuda')
    elif device == 'cpu':
        cfg.env_cfg.cudnn_benchmark = False
    return cfg


def _use_packed(cfg: Config, root: str, pack_file: str) -> None:
    """Point ``cfg``'s training data at ``pack_file`` the way the packed dataset base does."""
    base = Config.fromfile(osp.join(root, PACKED_BASE))
    dataset = base.train_dataloader.dataset.to_dict()
    dataset.update(
        pack_file=pack_file,
        data_root=cfg.train_dataloader.dataset.data_root,
        ann_file=cfg.train_dataloader.dataset.ann_file,
    )
    cfg.train_dataloader.dataset = dataset
    cfg.model.data_preprocessor.update(base.packed_preprocessor.to_dict())


def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def _peak_mem_mib(device: str) -> float:
    if device == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextlib.contextmanager
def _patched_run_iter(hook):
    original = IterBasedTrainLoop.run_iter

    def run_iter(loop, data_batch):
        hook(lambda: original(loop, data_batch), loop.iter, data_batch)

    IterBasedTrainLoop.run_iter = run_iter
    try:
        yield
    finally:
        IterBasedTrainLoop.run_iter = original


def _bare_loop_ms(cfg: Config, batches: List[dict], device: str, amp: bool) -> float:
    """Median ms of a plain loop's step on a fresh copy of the model, over ``batches``."""
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model).to(device)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    clip = (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm')
    params = [p for p in model.parameters() if p.requires_grad]
    autocast = (
        torch.autocast(device_type=device, dtype=torch.bfloat16)
        if amp
        else contextlib.nullcontext()
    )
    times = []
    for it, batch in enumerate(batches):
        _sync(device)
        t0 = time.perf_counter()
        with autocast:
            data = model.data_preprocessor(batch, True)
            losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optim.step()
        optim.zero_grad(set_to_none=True)
        if getattr(model, 'teacher', None) is not None:
            model.update_teacher(it + 1)
        _sync(device)
        if it > 0:  # the first step allocates
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def measure_method(
    root: str,
    method: str,
    data_root: str,
    *,
    batch: int = 16,
    crop: int = 128,
    iters: int = 5,
    warmup: int = 2,
    device: str = 'cpu',
    amp: bool = False,
    dnanet: bool = False,
    pack_file: Optional[str] = None,
    switches: Sequence[str] = (),
) -> Dict[str, float]:
    """The speed keys (see the module) of one method; ``iters`` timed iterations after one
    startup step, ``warmup`` untimed ones and one counted for synchronisations; ``pack_file``:
    train from that packed split; ``switches``: model switches on (see :func:`speed_config`)."""
    if iters < 1 or warmup < 0:
        raise ValueError(f'need iters >= 1 and warmup >= 0, got {iters} and {warmup}')
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    count_at = 1 + warmup
    total = count_at + 1 + iters
    state: Dict[str, object] = dict(host=[], wall=[], batches=[])

    def step(run, index, data_batch):
        if index == 0:
            run()
            _sync(device)
            state['startup_s'] = time.perf_counter() - state['t0']
        elif index == count_at:
            with SyncCounter(device=device, sites=True) as syncs:
                run()
                _sync(device)
            state['syncs'] = syncs
        elif index > count_at:
            _sync(device)
            t0 = time.perf_counter()
            run()
            t1 = time.perf_counter()
            _sync(device)
            t2 = time.perf_counter()
            state['host'].append(t1 - t0)
            state['wall'].append(t2 - t0)
            state['batches'].append(data_batch)
        else:
            run()

    with tempfile.TemporaryDirectory() as work_dir:
        cfg = speed_config(
            root,
            method,
            data_root,
            work_dir,
            batch=batch,
            crop=crop,
            iters=total,
            amp=amp,
            dnanet=dnanet,
            device=device,
            pack_file=pack_file,
            switches=switches,
        )
        state['t0'] = time.perf_counter()
        with _patched_run_iter(step):
            runner = Runner.from_cfg(cfg)
            runner.train()
        loader = iter(runner.train_dataloader)
        data_times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            next(loader)
            data_times.append(time.perf_counter() - t0)
        graph_step = getattr(runner.model, 'graph_step', None)
        graph_counts = dict(graph_step.counts) if graph_step is not None else None
        del runner
        bare_ms = _bare_loop_ms(cfg, [state['batches'][0]] + state['batches'], device, amp)
    ms = 1000 * statistics.median(state['wall'])
    syncs: SyncCounter = state['syncs']
    return dict(
        ms_per_iter=ms,
        host_ms_per_iter=ms if device == 'cpu' else 1000 * statistics.median(state['host']),
        syncs_per_iter=syncs.total,
        syncs_by_kind=syncs.by_kind(),
        syncs_by_site=dict(syncs.by_site()),
        samples_per_s=batch * 1000 / ms,
        peak_mem_mib=_peak_mem_mib(device),
        startup_s=state['startup_s'],
        projected_40k_s=state['startup_s'] + PROJECTED_ITERS * ms / 1000,
        data_ms_per_iter=1000 * statistics.median(data_times),
        runner_over_bare=ms / bare_ms,
        bare_ms_per_iter=bare_ms,
        graph_steps=graph_counts,
    )


def benchmark_training_speed(
    root: str,
    methods: Optional[List[str]] = None,
    *,
    batch: int = 16,
    crops=(128,),
    iters: int = 5,
    warmup: int = 2,
    device: str = 'cpu',
    amp: bool = False,
    dnanet: bool = False,
    packed: bool = False,
    switches: Sequence[str] = (),
) -> dict:
    """Every method (compact network, and DNANet with ``dnanet``) at every crop size;
    ``packed``: trained from the generated split packed in memory (the data path of
    ``configs/_base_/datasets/sirst3_packed.py``) instead of the per-sample pipeline;
    ``switches``: names of :data:`MODEL_SWITCHES` turned on for every run.

    Returns:
        dict: ``results``: ``'<method>[_dnanet]@<crop>'`` -> the keys of
        :func:`measure_method`; ``settings`` and ``notes`` (how to read the figures).
    """
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: CUDA is not available on this machine')
    methods = list(methods or SPEED_METHODS)
    results: Dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_root = osp.join(tmp, 'synthetic')
        size = max(256, max(crops))
        make_synthetic_dataset(
            data_root, num_train=max(8, batch), num_test=1, size=(size, size), seed=0
        )
        pack_file = None
        if packed:
            pack_file = osp.join(tmp, 'synthetic_train.npz')
            pack_split(data_root, SYNTHETIC_TRAIN_SPLIT, pack_file)
        for crop in crops:
            for net in [False, True] if dnanet else [False]:
                for method in methods:
                    torch.manual_seed(0)
                    name = f'{method}{"_dnanet" if net else ""}@{crop}'
                    results[name] = measure_method(
                        root,
                        method,
                        data_root,
                        batch=batch,
                        crop=crop,
                        iters=iters,
                        warmup=warmup,
                        device=device,
                        amp=amp,
                        dnanet=net,
                        pack_file=pack_file,
                        switches=switches,
                    )
    notes = [
        'timings are medians of few iterations; on a machine shared with other work they are '
        'indicative only',
        'ms_per_iter: one Runner iteration with all hooks, data loading excluded '
        '(data_ms_per_iter is the loader alone, num_workers=0)',
        'projected_40k_s = startup_s + 40000 * ms_per_iter (data loading assumed hidden by '
        'loader workers)',
    ]
    if device == 'cpu':
        notes += [
            'host_ms_per_iter equals ms_per_iter on CPU (no device work is queued)',
            'syncs_per_iter on CPU counts the calls that would synchronise on a GPU',
            'peak_mem_mib on CPU is the process maximum RSS so far (it never decreases from '
            'one method to the next)',
        ]
    return dict(
        results=results,
        settings=dict(
            device=device,
            amp=amp,
            packed=packed,
            **{switch: switch in switches for switch in MODEL_SWITCHES},
            batch=batch,
            crops=list(crops),
            iters=iters,
            warmup=warmup,
            threads=torch.get_num_threads(),
        ),
        notes=notes,
    )


def speed_table(report: dict) -> List[str]:
    """One line per measured configuration with the main keys.

    ``/full``: the step over full supervision's on the same network and crop, measured in the
    same run (``-`` where full supervision was not measured).
    """
    head = (
        f'{"method@crop":<26} {"ms/iter":>9} {"/full":>6} {"host ms":>9} {"syncs":>6} '
        f'{"samples/s":>10} {"peak MiB":>9} {"start s":>8} {"40k s":>9} {"data ms":>8} '
        f'{"runner/bare":>12}'
    )
    lines = [head]
    results = report['results']
    for name, r in results.items():
        method, crop = name.rsplit('@', 1)
        net = '_dnanet' if method.endswith('_dnanet') else ''
        full = results.get(f'full_sup{net}@{crop}')
        ratio = f'{r["ms_per_iter"] / full["ms_per_iter"]:6.2f}' if full else f'{"-":>6}'
        lines.append(
            f'{name:<26} {r["ms_per_iter"]:9.1f} {ratio} {r["host_ms_per_iter"]:9.1f} '
            f'{r["syncs_per_iter"]:6d} {r["samples_per_s"]:10.1f} {r["peak_mem_mib"]:9.0f} '
            f'{r["startup_s"]:8.1f} {r["projected_40k_s"]:9.0f} {r["data_ms_per_iter"]:8.1f} '
            f'{r["runner_over_bare"]:12.3f}'
        )
    return lines


def run_command(args: argparse.Namespace) -> int:
    """``tools/benchmarks/bench_train_step.py``'s work on its parsed arguments (``args.root``:
    the repository root): the training-speed report, or with ``args.ratios`` the model-step
    ratios (:mod:`.train_step`); printed and written (``--json``). Returns the exit status."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.ratios:
        result = benchmark_train_step(args.root, args.iters, args.warmup, args.batch, args.dnanet)
        print('\n'.join(train_step_table(result)))
        print('targets: ratio_base <= 1.10, ratio_final <= 1.35')
        if args.dnanet:
            print(
                f'DNANet iterations in the time of {cpu_budget_iters(args.root)} compact ones: '
                f'{result["dnanet_equal_time_iters"]}'
            )
    else:
        unknown = set(args.methods or []) - set(SPEED_METHODS)
        if unknown:
            raise SystemExit(
                f'error: unknown --methods {sorted(unknown)}; choose among {sorted(SPEED_METHODS)}'
            )
        result = benchmark_training_speed(
            args.root,
            args.methods,
            batch=args.batch,
            crops=args.crop,
            iters=args.iters,
            warmup=args.warmup,
            device=args.device,
            amp=args.amp,
            dnanet=args.dnanet,
            packed=args.packed,
            switches=[switch for switch in MODEL_SWITCHES if getattr(args, switch)],
        )
        print('\n'.join(speed_table(result)))
        for name, r in result['results'].items():
            if r.get('graph_steps') is not None:
                print(f'cuda graph: {name} steps {r["graph_steps"]}')
            for site, count in r['syncs_by_site'].items():
                print(f'sync: {name} {count} x {site}')
        for note in result['notes']:
            print(f'note: {note}')
    if args.json:
        write_json(result, args.json)
    return 0
