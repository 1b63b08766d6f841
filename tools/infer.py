#!/usr/bin/env python
"""Run a trained model on raw infrared frames (no labels): an image, a folder or a video.

    python tools/infer.py CONFIG CKPT --input PATH --out-dir DIR [--batch-size N]
                          [--device cpu|cuda|auto] [--threshold 0.5] [--overwrite]
                          [--unsafe-load-checkpoint]

``PATH`` is an image file, a folder of images (png/bmp/jpg/tif, sorted by name) or a video
(frames named ``<video stem>_<frame index:06d>``). Frames are read as the config's test pipeline
reads them and run whole, at original size. Writes:

* ``DIR/masks/<stem>.png``: binary masks, 0/255 (probability > threshold), the format
  ``tools/analysis_tools/eval_masks.py`` scores;
* ``DIR/overlays/<stem>.png``: the frame with the detections filled in;
* ``DIR/detections.csv``: ``frame,target_id,centroid_x,centroid_y,area,peak_score``, one row
  per predicted 8-connected component in raster order (centroid in px, x = column, y = row;
  peak_score = highest probability inside the component).

A frame (or video) that cannot be decoded is reported on stderr and skipped. ``DIR`` is filled
as a hidden folder beside it and moved into place at the end, so an interrupted run never
leaves a half-written ``DIR``; an existing non-empty ``DIR`` is refused unless ``--overwrite``.

The checkpoint is read with the weights-only unpickler and must fit the config's model key for
key (training-only teacher / auxiliary-head keys aside); a file that is not plain data, or whose
weights do not fit, is refused with the file and the offending globals or keys named.
``--unsafe-load-checkpoint`` fully unpickles a trusted legacy file instead.

Exit status: 0 on success, 1 when no frame could be decoded, 2 on a usage or data error
(a refused checkpoint included).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

# Heavy imports (torch, OpenCV, mmgsacp) happen in infer() after the arguments are parsed, so
# that --help and usage errors answer at once.

CSV_COLUMNS = ('frame', 'target_id', 'centroid_x', 'centroid_y', 'area', 'peak_score')


def _write_png(path: Path, image) -> None:
    import cv2

    if not cv2.imwrite(os.fspath(path), image):
        raise OSError(f'could not write {path}')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--input', type=Path, required=True, help='image file, folder of images, or video'
    )
    parser.add_argument('--out-dir', type=Path, required=True, help='output folder')
    parser.add_argument(
        '--batch-size', type=int, default=4, help='frames per forward pass (default 4)'
    )
    parser.add_argument(
        '--device',
        default='auto',
        help="'cpu', 'cuda', 'cuda:N' or 'auto' (GPU when present; default)",
    )
    parser.add_argument(
        '--threshold',
        type=float,
        default=0.5,
        help='target where probability > threshold (default 0.5)',
    )
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing non-empty --out-dir'
    )
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='fully unpickle a checkpoint that is not plain data (legacy files '
        'from a trusted source only: unpickling can run arbitrary code)',
    )
    return parser.parse_args(argv)


def check_inputs(args: argparse.Namespace):
    """The input's kind and frame count and the device, once every argument is checked.

    Raises:
        InputError: Naming the file or option to fix.
    """
    from mmgsacp.apis import count_frames, input_kind, resolve_device
    from mmgsacp.utils.io import InputError, check_out_dir, load_config

    load_config(args.config)  # missing or unreadable: named before any work
    if not os.path.isfile(args.checkpoint):
        raise InputError(f'checkpoint file not found: {args.checkpoint}')
    if args.batch_size < 1:
        raise InputError(f'--batch-size must be >= 1, got {args.batch_size}')
    if not 0.0 < args.threshold < 1.0:
        raise InputError(f'--threshold must lie in (0, 1), got {args.threshold}')
    check_out_dir(args.out_dir, args.overwrite)
    try:
        kind = input_kind(args.input)
        total = count_frames(args.input)
        device = resolve_device(args.device)
    except (OSError, ValueError, RuntimeError) as err:
        raise InputError(str(err)) from err
    if kind == 'folder' and total == 0:
        raise InputError(f'no images (png/bmp/jpg/tif) in {args.input}')
    return total, device


def infer(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from mmgsacp.apis import (
        find_detections,
        image_loader_from_config,
        load_frames,
        load_model,
        run_on_frames,
    )
    from mmgsacp.utils.checkpoint import allow_unsafe_checkpoints
    from mmgsacp.utils.fileio import replace_dir
    from mmgsacp.visualization import draw_detections

    total, device = check_inputs(args)
    if args.unsafe_load_checkpoint:
        allow_unsafe_checkpoints()
    # A refused or mismatched checkpoint raises CheckpointError naming the file.
    model = load_model(args.config, args.checkpoint, device)
    loader = image_loader_from_config(model.cfg)

    parent = args.out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{args.out_dir.name}.partial-', dir=parent))
    processed = skipped = 0
    try:
        (tmp / 'masks').mkdir()
        (tmp / 'overlays').mkdir()
        with open(tmp / 'detections.csv', 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            results = run_on_frames(model, load_frames(args.input, loader), args.batch_size)
            bar = tqdm(
                results,
                total=total,
                desc='infer',
                unit='frame',
                disable=args.no_progress,
                file=sys.stderr,
            )
            for frame, prob in bar:
                if prob is None:
                    skipped += 1
                    tqdm.write(
                        f'warning: skipped {frame.source} ({frame.name}): {frame.error}',
                        file=sys.stderr,
                    )
                    continue
                mask, dets = find_detections(prob, args.threshold)
                gray = np.clip(np.rint(frame.image), 0, 255).astype(np.uint8)
                _write_png(tmp / 'masks' / f'{frame.name}.png', mask.astype(np.uint8) * 255)
                _write_png(
                    tmp / 'overlays' / f'{frame.name}.png', draw_detections(gray, mask, None)
                )
                for d in dets:
                    writer.writerow(
                        [
                            frame.name,
                            d.target_id,
                            f'{d.centroid_x:.4f}',
                            f'{d.centroid_y:.4f}',
                            d.area,
                            f'{d.peak_score:.6f}',
                        ]
                    )
                processed += 1
            bar.close()
        if processed == 0:
            print(
                f'error: no frame of {args.input} could be decoded ({skipped} skipped); '
                f'{args.out_dir} not written',
                file=sys.stderr,
            )
            shutil.rmtree(tmp, ignore_errors=True)
            return 1
        replace_dir(tmp, args.out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(
        f'processed {processed} frames, skipped {skipped}; wrote {args.out_dir} '
        '(masks/, overlays/, detections.csv)'
    )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run inference; returns the exit status (2 on a usage or data error)."""
    args = parse_args(argv)
    from mmgsacp.utils.io import run_tool  # imports (and registers) the package

    return run_tool(infer, args)


if __name__ == '__main__':
    sys.exit(main())
