#!/usr/bin/env python
"""Micro-benchmark of the online point-to-mask targets (and the contrastive loss).

A training-sized batch (default 16 x 1 x 128 x 128, D = 16, P = 24 points, R = 16) of
synthetic bright blobs with a noisy embedding. For each setting it prints ms per call of the
batched ``generate_point_targets`` and of a naive per-point Python loop over the same points
(one call per point), measured in the same run, and their ratio; it checks that both give the
same regions.

    python tools/bench_propagation.py [--points 24] [--iters 30] [--threads 1] [--device cpu]
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import Callable

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mmgsacp.models.losses.hbc_loss import HardBackgroundContrastiveLoss  # noqa: E402
from mmgsacp.models.pseudo_labels import generate_point_targets  # noqa: E402


def make_batch(batch: int, size: int, channels: int, num_points: int, device: str,
               seed: int = 0):
    """Blobs of 1 to ~120 px under each point, on noise; embedding = blob/background + noise."""
    g = torch.Generator().manual_seed(seed)
    image = 0.2 * torch.randn(batch, 1, size, size, generator=g)
    emb = 0.3 * torch.randn(batch, channels, size, size, generator=g)
    emb[:, 0] += 1.0
    b = torch.arange(num_points) % batch
    xy = torch.randint(8, size - 8, (num_points, 2), generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    for i in range(num_points):
        ry, rx = (float(v) for v in torch.rand(2, generator=g) * 5 + 0.5)
        blob = ((yy - xy[i, 1]) / ry)**2 + ((xx - xy[i, 0]) / rx)**2 <= 1
        image[b[i], 0][blob] += 1.5
        emb[b[i], 1][blob] += 2.0
    points = torch.stack([b, xy[:, 0], xy[:, 1]], 1)
    return image.to(device), F.normalize(emb, dim=1).to(device), points.to(device)


def timeit(fn: Callable[[], object], iters: int, device: str) -> float:
    fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--channels', type=int, default=16)
    parser.add_argument('--points', type=int, default=24)
    parser.add_argument('--radius', type=int, default=16)
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', default=None, help='also write the results here')
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    image, emb, points = make_batch(args.batch, args.size, args.channels, args.points,
                                    args.device)
    results = {}
    print(f'B={args.batch} H=W={args.size} D={args.channels} P={args.points} '
          f'R={args.radius} device={args.device} threads={torch.get_num_threads()}')
    for name, kw in [('affinity', dict(mode='affinity')), ('prior', dict(mode='prior')),
                     ('affinity+adaptive', dict(mode='affinity', adaptive=True, r_min=4))]:
        kw = dict(kw, radius=args.radius)

        def batched():
            return generate_point_targets(image, emb, points, **kw)

        def loop():
            return [generate_point_targets(image, emb, points[i:i + 1], **kw)
                    for i in range(points.shape[0])]

        same = torch.equal(batched().regions, torch.cat([t.regions for t in loop()]))
        t_batched = timeit(batched, args.iters, args.device)
        t_loop = timeit(loop, max(args.iters // 5, 2), args.device)
        results[name] = dict(batched_ms=t_batched, loop_ms=t_loop, speedup=t_loop / t_batched,
                             same_regions=same)
        print(f'{name:>18}: batched {t_batched:7.2f} ms/call | per-point loop '
              f'{t_loop:7.2f} ms/call | x{t_loop / t_batched:5.1f} | same regions: {same}')

    targets = generate_point_targets(image, emb, points, radius=args.radius)
    loss_fn = HardBackgroundContrastiveLoss()
    leaf = emb.clone().requires_grad_(True)

    def hbc():
        leaf.grad = None  # as zero_grad(set_to_none=True) in training
        loss_fn(leaf, image, targets).backward()

    t_hbc = timeit(hbc, args.iters, args.device)
    results['hbc_forward_backward_ms'] = t_hbc
    print(f'{"hbc loss":>18}: forward+backward {t_hbc:7.2f} ms/call')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(vars(args), results=results), f, indent=2)


if __name__ == '__main__':
    main()
