#!/usr/bin/env python
"""Export a trained model's inference network to ONNX.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--shape H W] [--dynamic]
        [--opset 17] [--verify] [--unsafe-load-checkpoint]

The graph takes the frame as read, ``image``: float ``(1, 1, H, W)`` raw intensities (the data
preprocessor's ``(x - mean) / std`` is inside), and gives ``prob``: ``(1, 1, H, W)`` target
probabilities (sigmoid of the logits; threshold 0.5 as tools/infer.py does). ``H`` and ``W``
must be multiples of 32 (the configs' ``size_divisor``): pad a frame with its mean intensity
and crop the output back. ``--dynamic`` lets ``H`` and ``W`` vary at run time (default: fixed
to ``--shape``, 256 256).

The checkpoint is read as tools/test.py reads it: weights-only unpickler, strict key match
(training-only keys aside), the EMA teacher's weights when the config tests with them. The
``.onnx`` is written atomically. ``--verify`` runs the file with onnxruntime on a random input
and checks it against PyTorch. Needs the packages in requirements/deploy.txt.

Exit status: 0 on success, 2 on a usage or data error (missing package, refused checkpoint).
"""

import argparse
import os
import os.path as osp
from typing import List, Optional

# torch and mmgsacp are imported in run(), after the arguments are parsed.


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out', help='.onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'))
    parser.add_argument('--dynamic', action='store_true', help='variable H and W')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--verify', action='store_true', help='compare onnxruntime with PyTorch on a random input'
    )
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='fully unpickle a trusted legacy checkpoint',
    )
    args = parser.parse_args(argv)
    if not args.out.endswith('.onnx'):
        parser.error(f'OUT must end with .onnx, got {args.out!r}')
    return args


def verify(net, path: str, shape, seed: int = 0) -> float:
    """Largest absolute difference between onnxruntime and PyTorch on a random frame."""
    import numpy as np
    import torch

    try:
        import onnxruntime as ort
    except ImportError as err:
        from mmgsacp.apis.onnx_export import DEPLOY_REQUIREMENTS
        from mmgsacp.utils.io import InputError

        raise InputError(
            "--verify needs the 'onnxruntime' package, which is not installed: "
            f'pip install -r {DEPLOY_REQUIREMENTS}'
        ) from err
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, *shape, generator=g) * 255
    with torch.no_grad():
        ref = net(x).numpy()
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = session.run(['prob'], {'image': x.numpy()})[0]
    return float(np.abs(got - ref).max())


def run(args: argparse.Namespace) -> str:
    from mmgsacp.apis.inference import load_model
    from mmgsacp.apis.onnx_export import ProbabilityNet, export_onnx, require_onnx
    from mmgsacp.utils.checkpoint import allow_unsafe_checkpoints
    from mmgsacp.utils.io import InputError

    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise InputError(f'no such file: {path}')
    try:
        require_onnx()  # before the model is built
    except ImportError as err:
        raise InputError(str(err)) from err
    if args.unsafe_load_checkpoint:
        allow_unsafe_checkpoints(True)
    net = ProbabilityNet(load_model(args.config, args.checkpoint, device='cpu')).eval()
    try:
        export_onnx(net, args.out, tuple(args.shape), args.dynamic, args.opset)
    except ValueError as err:
        raise InputError(str(err)) from err
    size = 'H, W' if args.dynamic else ', '.join(map(str, args.shape))
    print(f'wrote {args.out}: image (1, 1, {size}) raw intensities -> prob, target probabilities')
    if args.verify:
        diff = verify(net, args.out, tuple(args.shape))
        print(f'onnxruntime vs PyTorch: max |difference| = {diff:.2e}')
        if diff > 1e-4:
            raise InputError(f'{args.out}: onnxruntime differs from PyTorch by {diff:.2e}')
    return os.fspath(args.out)


def main(argv: Optional[List[str]] = None):
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool

    return run_tool(run, args, exit=True)


if __name__ == '__main__':
    main()
