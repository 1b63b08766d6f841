"""Writes test-time predictions (binary masks, probabilities, overlays) atomically."""

from __future__ import annotations

import os
import os.path as osp
import shutil
from typing import Dict, Optional

import cv2
import numpy as np
from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.fileio import replace_dir
from ...visualization import draw_detections


def _stem(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Saves what ``tools/test.py --out/--prob-dir/--show-dir`` asks for.

    * ``out_dir``: ``<stem>.png`` binary masks (0/255) at original size, the format
      ``tools/analysis_tools/eval_masks.py`` scores;
    * ``prob_dir``: ``<stem>.png`` 16-bit probabilities (value / 65535), for threshold sweeps;
    * ``show_dir``: ``<stem>.png`` colour overlays: matched detections green, false alarms red,
      missed targets yellow (docs/en/evaluation.md, 'Pd and Fa' matching).

    Each folder is filled as a hidden temporary folder beside it and moved into place only after
    the whole test set is written: an interrupted run never leaves a half-written prediction
    folder where a complete one was. An existing non-empty folder is refused unless
    ``overwrite=True``.
    """

    priority = 'LOW'

    def __init__(
        self,
        out_dir: Optional[str] = None,
        prob_dir: Optional[str] = None,
        show_dir: Optional[str] = None,
        overwrite: bool = False,
    ) -> None:
        self.targets: Dict[str, str] = {
            k: v for k, v in (('out', out_dir), ('prob', prob_dir), ('show', show_dir)) if v
        }
        self.overwrite = overwrite
        self._tmp: Dict[str, str] = {}
        for kind, folder in self.targets.items():
            if osp.isdir(folder) and os.listdir(folder) and not overwrite:
                raise FileExistsError(
                    f'{folder} exists and is not empty; pass --overwrite (or overwrite=True) '
                    f'to replace it'
                )

    def before_test(self, runner) -> None:
        # One fixed temporary name per folder, so that all ranks of a distributed test write
        # their shares into the same place; rank 0 clears what an interrupted run left there.
        for kind, folder in self.targets.items():
            folder = osp.abspath(folder)
            tmp = osp.join(osp.dirname(folder), f'.{osp.basename(folder)}.partial')
            if get_rank() == 0:
                shutil.rmtree(tmp, ignore_errors=True)
                os.makedirs(tmp)
            self._tmp[kind] = tmp
        barrier()

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._tmp:
            return
        for sample in outputs:
            stem = _stem(sample.metainfo['img_path'])
            pred = sample.pred_sem_seg.data.squeeze(0).cpu().numpy().astype(bool)
            if 'out' in self._tmp:
                self._write(osp.join(self._tmp['out'], stem + '.png'), pred.astype(np.uint8) * 255)
            if 'prob' in self._tmp:
                prob = sample.seg_logits.data.squeeze(0).float().cpu().numpy()
                self._write(
                    osp.join(self._tmp['prob'], stem + '.png'),
                    np.round(np.clip(prob, 0, 1) * 65535).astype(np.uint16),
                )
            if 'show' in self._tmp:
                gray = cv2.imread(sample.metainfo['img_path'], cv2.IMREAD_GRAYSCALE)
                gt = (
                    sample.gt_sem_seg.data.squeeze(0).cpu().numpy() == 1
                    if 'gt_sem_seg' in sample
                    else None
                )
                self._write(
                    osp.join(self._tmp['show'], stem + '.png'), draw_detections(gray, pred, gt)
                )

    @staticmethod
    def _write(path: str, image: np.ndarray) -> None:
        if not cv2.imwrite(path, image):
            raise OSError(f'could not write {path}')

    def after_test(self, runner) -> None:
        barrier()
        if get_rank() == 0:
            for kind, tmp in self._tmp.items():
                replace_dir(tmp, self.targets[kind])
                runner.logger.info(f'wrote {kind} images to {self.targets[kind]}')
        self._tmp = {}
