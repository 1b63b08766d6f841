"""Micro-benchmark of the online point-to-mask targets (and the contrastive loss).

A training-sized batch (default 16 x 1 x 128 x 128, D = 16, P = 24 points, R = 16) of
synthetic bright blobs with a noisy embedding. For each setting it measures ms per call of the
batched ``generate_point_targets`` and of a naive per-point Python loop over the same points
(one call per point), in the same run, and checks that both give the same regions.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F

from mmgsacp.models.losses.hbc_loss import HardBackgroundContrastiveLoss
from mmgsacp.models.pseudo_labels import generate_point_targets
from mmgsacp.utils.io import InputError, write_json

#: (name, generate_point_targets options) of the timed settings.
SETTINGS = (
    ('affinity', dict(mode='affinity')),
    ('prior', dict(mode='prior')),
    ('affinity+adaptive', dict(mode='affinity', adaptive=True, r_min=4)),
)


def make_batch(
    batch: int, size: int, channels: int, num_points: int, device: str, seed: int = 0
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Blobs of 1 to ~120 px under each point, on noise; embedding = blob/background + noise.

    Returns:
        (B, 1, S, S) image, (B, D, S, S) unit-norm embedding and (P, 3) points (b, x, y).
    """
    g = torch.Generator().manual_seed(seed)
    image = 0.2 * torch.randn(batch, 1, size, size, generator=g)
    emb = 0.3 * torch.randn(batch, channels, size, size, generator=g)
    emb[:, 0] += 1.0
    b = torch.arange(num_points) % batch
    xy = torch.randint(8, size - 8, (num_points, 2), generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    for i in range(num_points):
        ry, rx = (float(v) for v in torch.rand(2, generator=g) * 5 + 0.5)
        blob = ((yy - xy[i, 1]) / ry) ** 2 + ((xx - xy[i, 0]) / rx) ** 2 <= 1
        image[b[i], 0][blob] += 1.5
        emb[b[i], 1][blob] += 2.0
    points = torch.stack([b, xy[:, 0], xy[:, 1]], 1)
    return image.to(device), F.normalize(emb, dim=1).to(device), points.to(device)


def timeit(fn: Callable[[], object], iters: int, device: str) -> float:
    """Mean ms per call of ``fn`` over ``iters`` calls after one untimed call."""
    fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters * 1e3


def benchmark_propagation(
    batch: int = 16,
    size: int = 128,
    channels: int = 16,
    points: int = 24,
    radius: int = 16,
    iters: int = 30,
    device: str = 'cpu',
) -> Dict[str, object]:
    """Time the batched targets against a per-point loop, and the contrastive loss.

    Returns:
        ``{setting: {"batched_ms", "loop_ms", "speedup", "same_regions"}}`` for every
        :data:`SETTINGS` entry, and ``hbc_forward_backward_ms``.
    """
    image, emb, pts = make_batch(batch, size, channels, points, device)
    results: Dict[str, object] = {}
    for name, kw in SETTINGS:
        kw = dict(kw, radius=radius)

        def batched():
            return generate_point_targets(image, emb, pts, **kw)

        def loop():
            return [
                generate_point_targets(image, emb, pts[i : i + 1], **kw)
                for i in range(pts.shape[0])
            ]

        same = torch.equal(batched().regions, torch.cat([t.regions for t in loop()]))
        t_batched = timeit(batched, iters, device)
        t_loop = timeit(loop, max(iters // 5, 2), device)
        results[name] = dict(
            batched_ms=t_batched, loop_ms=t_loop, speedup=t_loop / t_batched, same_regions=same
        )

    targets = generate_point_targets(image, emb, pts, radius=radius)
    loss_fn = HardBackgroundContrastiveLoss()
    leaf = emb.clone().requires_grad_(True)

    def hbc():
        leaf.grad = None  # as zero_grad(set_to_none=True) in training
        loss_fn(leaf, image, targets).backward()

    results['hbc_forward_backward_ms'] = timeit(hbc, iters, device)
    return results


def propagation_table(results: Dict[str, object]) -> List[str]:
    """One line per setting (batched vs loop) and one for the loss."""
    lines = []
    for name, _ in SETTINGS:
        r = results[name]
        lines.append(
            f'{name:>18}: batched {r["batched_ms"]:7.2f} ms/call | per-point loop '
            f'{r["loop_ms"]:7.2f} ms/call | x{r["speedup"]:5.1f} | same regions: '
            f'{r["same_regions"]}'
        )
    lines.append(
        f'{"hbc loss":>18}: forward+backward {results["hbc_forward_backward_ms"]:7.2f} ms/call'
    )
    return lines


def run_command(args: argparse.Namespace) -> int:
    """``tools/benchmarks/bench_propagation.py``'s work on its parsed arguments: check them, run
    :func:`benchmark_propagation`, print its table, write ``--json``. Returns the exit status."""
    for flag in ('batch', 'size', 'channels', 'points', 'radius', 'iters'):
        if getattr(args, flag) < 1:
            raise InputError(f'--{flag} must be >= 1, got {getattr(args, flag)}')
    try:
        torch.device(args.device)
    except RuntimeError as err:
        raise InputError(f'--device {args.device!r}: {err}') from err
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    print(
        f'B={args.batch} H=W={args.size} D={args.channels} P={args.points} '
        f'R={args.radius} device={args.device} threads={torch.get_num_threads()}'
    )
    results = benchmark_propagation(
        args.batch, args.size, args.channels, args.points, args.radius, args.iters, args.device
    )
    print('\n'.join(propagation_table(results)))
    if args.json:
        write_json(dict(vars(args), results=results), args.json)
    return 0
