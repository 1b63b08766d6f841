"""Score a folder of saved binary predictions against a folder of ground-truth masks.

Both folders hold ``<stem>.png``. Files are read under the value rule of
:mod:`mmgsacp.datasets.masks` (target where the 8-bit value is > 127; a file holding only 0
and 1, or nothing above 127, is refused naming it unless ``mask_scale`` says the files are
0/1; an all-zero file is an image without targets), so a 0/1 folder never scores as empty.
Grey values besides 0 and the maximum are accepted (official IRSTD-1K masks hold them at
target boundaries) and the files holding them are counted for the caller to report.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import cv2
import numpy as np

from mmgsacp.datasets.gray import to_gray
from mmgsacp.datasets.masks import DATASET_HINT, MaskValueError, binarize_mask
from mmgsacp.datasets.parts import part_of
from mmgsacp.utils.io import InputError, listed, read_stems, write_json

from .functional import DEFAULT_SIZE_BINS, HEADLINE_KEYS, image_stats, stratum_names, summarize
from .metrics.irstd_metric import summary_tables


class EvalError(InputError):
    """A data problem the user must fix (missing files, size mismatch, refused values).

    An :class:`~mmgsacp.utils.io.InputError`, so a tool run through
    :func:`~mmgsacp.utils.io.run_tool` reports it as one ``error:`` line with exit status 2.
    """


def read_mask_file(
    path: Path,
    mask_scale: str = '255',
    what: str = 'mask',
    hint: str = DATASET_HINT,
    grey: Optional[List[str]] = None,
) -> np.ndarray:
    """Target pixels of a saved mask or prediction.

    Args:
        path (Path): PNG (or any OpenCV-readable) file: 8-bit or 16-bit grey, 1-bit, grey +
            alpha, colour or palette (read as ITU-R 601 luma).
        mask_scale (str): ``'255'``, ``'01'`` or ``'auto'``; see
            :func:`mmgsacp.datasets.masks.binarize_mask`.
        what (str): ``'mask'`` or ``'prediction'``, for errors.
        hint (str): How the user selects another ``mask_scale``, for errors.
        grey (list[str], optional): ``path`` is appended when the file holds grey values
            besides 0 and its maximum.

    Returns:
        np.ndarray: (H, W) bool.

    Raises:
        EvalError: The file cannot be decoded or its values are refused; names the file.
    """
    decoded = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype not in (np.uint8, np.uint16):
        raise EvalError(f'cannot decode {what} {path} as an 8- or 16-bit image')
    try:
        values = to_gray(decoded, str(path))
        if grey is not None:
            top = values.max() if values.size else 0
            if top > 1 and ((values > 0) & (values < top)).any():
                grey.append(str(path))
        return binarize_mask(values, str(path), mask_scale, what, hint)
    except (MaskValueError, ValueError) as err:
        raise EvalError(str(err)) from err


def _missing(stems: Sequence[str], folder: Path, what: str) -> None:
    missing = [s for s in stems if not (folder / f'{s}.png').is_file()]
    if missing:
        raise EvalError(
            f'{len(missing)} of {len(stems)} {what} missing from {folder}: {listed(missing)}'
        )


def collect_stats(
    pred_dir: Path,
    gt_dir: Path,
    stems: Sequence[str],
    use_parts: bool,
    size_bins: Sequence[int] = DEFAULT_SIZE_BINS,
    mask_scale: str = '255',
    hint: str = DATASET_HINT,
    grey: Optional[List[str]] = None,
) -> List[Dict[str, Any]]:
    """Per-image stats (:func:`image_stats`) for every stem, after checking that all files
    exist.

    Args:
        pred_dir (Path): Folder of predictions ``<stem>.png``.
        gt_dir (Path): Folder of ground-truth masks ``<stem>.png``.
        stems (Sequence[str]): Stems to score.
        use_parts (bool): Tag each image with its SIRST3 part (from its stem).
        size_bins (Sequence[int]): Target-area strata edges.
        mask_scale (str): Value rule of both folders; see :func:`read_mask_file`.
        hint (str): How the user selects another ``mask_scale``, for errors.
        grey (list[str], optional): Collects files holding grey values.

    Returns:
        list[dict]: One stats dict per stem with ``part`` and ``stem`` added.

    Raises:
        EvalError: No stems, missing files, a size mismatch or refused values.
    """
    if not stems:
        raise EvalError(f'no images to score (no PNG in {gt_dir} or an empty split)')
    _missing(stems, gt_dir, 'ground-truth masks')
    _missing(stems, pred_dir, 'predictions')
    stats = []
    for stem in stems:
        pred_path, gt_path = pred_dir / f'{stem}.png', gt_dir / f'{stem}.png'
        pred = read_mask_file(pred_path, mask_scale, 'prediction', hint, grey)
        gt = read_mask_file(gt_path, mask_scale, 'mask', hint, grey)
        if pred.shape != gt.shape:
            raise EvalError(
                f'size mismatch: prediction {pred_path} is {pred.shape[1]}x'
                f'{pred.shape[0]} (WxH) but mask {gt_path} is {gt.shape[1]}x'
                f'{gt.shape[0]}; predictions must be at the original image size'
            )
        s = image_stats(pred, gt, size_bins)
        s['part'] = part_of(stem) if use_parts else None
        s['stem'] = stem
        stats.append(s)
    return stats


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # strict JSON has no NaN: an undefined rate is written as null
    return v


def build_report(
    stats: Sequence[Dict[str, Any]], size_bins: Sequence[int] = DEFAULT_SIZE_BINS
) -> Dict[str, Any]:
    """The JSON report: headline metrics and image count overall, per part and per stratum.

    Returns:
        dict: ``{"mIoU", "nIoU", "Pd", "Fa", "images", "targets", "parts": {part: {same
        keys}}, "strata": {stratum: {"targets", "Pd", "cIoU"}}}``; mIoU, nIoU, Pd, cIoU in
        percent, Fa in units of 1e-6. A rate that is undefined (e.g. Pd of a set without
        targets) is null, never NaN.
    """
    overall, per_part = summarize(stats)

    def headline(agg: Dict[str, float]) -> Dict[str, Any]:
        out = {k: _json_number(float(agg[k])) for k in HEADLINE_KEYS}
        out.update(images=int(agg['images']), targets=int(agg['targets']))
        return out

    report = headline(overall)
    report['parts'] = {part: headline(agg) for part, agg in per_part.items()}
    report['strata'] = {
        name: dict(
            targets=int(overall[f'targets_{name}']),
            Pd=_json_number(float(overall[f'Pd_{name}'])),
            cIoU=_json_number(float(overall[f'cIoU_{name}'])),
        )
        for name in stratum_names(size_bins)
    }
    return report


#: How ``tools/analysis_tools/eval_masks.py`` tells the user to read 0/1 masks.
CLI_HINT = '--mask-scale 01 (every file is 0/1) or --mask-scale auto (decided per file)'


def run_command(args: argparse.Namespace) -> int:
    """``tools/analysis_tools/eval_masks.py``'s work on its parsed arguments: print the
    tables, write ``--json``. Returns the exit status."""
    for folder, flag in ((args.pred_dir, '--pred-dir'), (args.gt_dir, '--gt-dir')):
        if not folder.is_dir():
            raise InputError(f'{flag} {folder} is not a folder')
    if args.split is not None and not args.split.is_file():
        raise InputError(f'--split {args.split} is not a file')
    grey: List[str] = []
    # a refused file raises EvalError, an InputError naming it: one error line, exit status 2
    stats = collect_stats(
        args.pred_dir,
        args.gt_dir,
        read_stems(args.gt_dir, args.split),
        args.part_map == 'auto',
        mask_scale=args.mask_scale,
        hint=CLI_HINT,
        grey=grey,
    )
    if grey:
        print(
            f'note: {len(grey)} files hold grey values besides 0 and their maximum (e.g. '
            f'{grey[0]}); pixels > 127 are target',
            file=sys.stderr,
        )
    overall, per_part = summarize(stats)
    set_name = args.split.stem if args.split is not None else 'all'
    print(summary_tables(overall, per_part, DEFAULT_SIZE_BINS, set_name=set_name))
    if args.json is not None:
        write_json(build_report(stats), args.json)
        print(f'wrote {args.json}')
    return 0
