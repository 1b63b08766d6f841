"""Score a folder of saved binary predictions against ground-truth masks (mIoU, nIoU, Pd, Fa).

Both folders hold ``<stem>.png``; a pixel is target where the PNG value is > 127. Metrics follow
the field's conventions (see ``mmgsacp.evaluation.functional``), overall and per SIRST3 part.

Example::

    python tools/analysis_tools/eval_masks.py --pred-dir work_dirs/run/preds \\
        --gt-dir ../shared/data/SIRST3/masks \\
        --split ../shared/data/SIRST3/img_idx/test_SIRST3.txt --json work_dirs/run/eval.json

Exit status: 0 on success, 2 on a usage or data error (missing predictions, size mismatch).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from mmgsacp.datasets.parts import part_of
from mmgsacp.evaluation.functional import (DEFAULT_SIZE_BINS, HEADLINE_KEYS, image_stats,
                                           mask_from_png, stratum_names, summarize)
from mmgsacp.evaluation.metrics.irstd_metric import summary_tables
from mmgsacp.utils.fileio import atomic_write_text

MAX_LISTED = 20


class EvalError(Exception):
    """A data problem the user must fix; reported without a traceback."""


def read_mask_png(path: Path) -> np.ndarray:
    """Target pixels of a saved mask: grey value > 127.

    Args:
        path: PNG file; 8-bit grey, 1-bit, 16/32-bit grey, or colour/palette (read as luma).

    Returns:
        (H, W) bool mask.
    """
    with Image.open(path) as img:
        if img.mode == '1':
            return np.asarray(img, dtype=bool)
        if img.mode not in ('L', 'I', 'I;16', 'I;16B', 'I;16L'):
            img = img.convert('L')
        return mask_from_png(np.asarray(img))


def read_stems(gt_dir: Path, split: Optional[Path]) -> List[str]:
    """The image stems to score: the lines of ``split`` (blank lines ignored), else every PNG
    stem in ``gt_dir`` (sorted)."""
    if split is not None:
        lines = split.read_text().splitlines()
        return [s.strip() for s in lines if s.strip()]
    return sorted(p.stem for p in gt_dir.glob('*.png'))


def _missing(stems: Sequence[str], folder: Path, what: str) -> None:
    missing = [s for s in stems if not (folder / f'{s}.png').is_file()]
    if missing:
        shown = ', '.join(missing[:MAX_LISTED])
        more = f' (and {len(missing) - MAX_LISTED} more)' if len(missing) > MAX_LISTED else ''
        raise EvalError(f'{len(missing)} of {len(stems)} {what} missing from {folder}: '
                        f'{shown}{more}')


def collect_stats(pred_dir: Path, gt_dir: Path, stems: Sequence[str], use_parts: bool,
                  size_bins: Sequence[int] = DEFAULT_SIZE_BINS) -> List[Dict[str, Any]]:
    """Per-image stats for every stem, after checking that all files exist."""
    if not stems:
        raise EvalError(f'no images to score (no PNG in {gt_dir} or an empty split)')
    _missing(stems, gt_dir, 'ground-truth masks')
    _missing(stems, pred_dir, 'predictions')
    stats = []
    for stem in stems:
        pred_path, gt_path = pred_dir / f'{stem}.png', gt_dir / f'{stem}.png'
        pred, gt = read_mask_png(pred_path), read_mask_png(gt_path)
        if pred.shape != gt.shape:
            raise EvalError(f'size mismatch: prediction {pred_path} is {pred.shape[1]}x'
                            f'{pred.shape[0]} (WxH) but mask {gt_path} is {gt.shape[1]}x'
                            f'{gt.shape[0]}; predictions must be at the original image size')
        s = image_stats(pred, gt, size_bins)
        s['part'] = part_of(stem) if use_parts else None
        s['stem'] = stem
        stats.append(s)
    return stats


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None  # JSON has no NaN
    return v


def build_report(stats: Sequence[Dict[str, Any]],
                 size_bins: Sequence[int] = DEFAULT_SIZE_BINS) -> Dict[str, Any]:
    """The JSON report: headline metrics and image count overall, per part and per stratum.

    Returns:
        ``{"mIoU", "nIoU", "Pd", "Fa", "images", "targets", "parts": {part: {same keys}},
        "strata": {stratum: {"targets", "Pd", "cIoU"}}}``; mIoU, nIoU, Pd, cIoU in percent,
        Fa in units of 1e-6, undefined rates as null.
    """
    overall, per_part = summarize(stats)

    def headline(agg: Dict[str, float]) -> Dict[str, Any]:
        out = {k: _json_number(float(agg[k])) for k in HEADLINE_KEYS}
        out.update(images=int(agg['images']), targets=int(agg['targets']))
        return out

    report = headline(overall)
    report['parts'] = {part: headline(agg) for part, agg in per_part.items()}
    report['strata'] = {
        name: dict(targets=int(overall[f'targets_{name}']),
                   Pd=_json_number(float(overall[f'Pd_{name}'])),
                   cIoU=_json_number(float(overall[f'cIoU_{name}'])))
        for name in stratum_names(size_bins)
    }
    return report


def write_json_atomic(obj: Any, path: Path) -> None:
    """Write ``obj`` as JSON so that ``path`` never holds a half-written file."""
    atomic_write_text(json.dumps(obj, indent=2) + '\n', path)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pred-dir', type=Path, required=True,
                        help='folder of predicted masks <stem>.png (target where > 127)')
    parser.add_argument('--gt-dir', type=Path, required=True,
                        help='folder of ground-truth masks <stem>.png (target where > 127)')
    parser.add_argument('--split', type=Path, default=None,
                        help='file with one stem per line (default: every PNG in --gt-dir)')
    parser.add_argument('--json', type=Path, default=None, help='write the metrics here')
    parser.add_argument('--part-map', choices=('auto', 'none'), default='auto',
                        help='auto: per-part metrics from file names (Misc_* NUAA-SIRST, '
                        '6 digits NUDT-SIRST, XDU* IRSTD-1K); none: overall only')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        for folder, flag in ((args.pred_dir, '--pred-dir'), (args.gt_dir, '--gt-dir')):
            if not folder.is_dir():
                raise EvalError(f'{flag} {folder} is not a folder')
        if args.split is not None and not args.split.is_file():
            raise EvalError(f'--split {args.split} is not a file')
        stems = read_stems(args.gt_dir, args.split)
        stats = collect_stats(args.pred_dir, args.gt_dir, stems, args.part_map == 'auto')
    except EvalError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    overall, per_part = summarize(stats)
    set_name = args.split.stem if args.split is not None else 'all'
    print(summary_tables(overall, per_part, DEFAULT_SIZE_BINS, set_name=set_name))
    if args.json is not None:
        write_json_atomic(build_report(stats), args.json)
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
