"""PAL's schedule (Yu et al., ICCV 2025): initial labels, easy images first, label updates and
the activation of hard images."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmseg.registry import HOOKS

from ...apis.inference import read_ir_frame
from ...datasets.samplers import ActiveSubsetSampler
from ...models.utils.image_label_store import ImageLabelStore
from ...models.utils.label_store import point_label_infos
from ...models.utils.pal import (
    activation_check,
    as_points,
    decayed_update,
    initial_label,
    is_easy,
    miss_tolerance,
)
from .utils import (
    LabelStoreHook,
    predict_windows,
    prediction_windows,
    unwrap_model,
)

CHECKPOINT_KEY = 'pal_labels'


def update_iters(max_iters: int, start_ratio: float, interval_ratio: float) -> List[int]:
    """The (1-based) iterations after which labels are updated: from ``start_ratio`` of the
    run, every ``interval_ratio`` of it, before the end."""
    start = max(1, int(round(start_ratio * max_iters)))
    step = max(1, int(round(interval_ratio * max_iters)))
    return list(range(start, max_iters, step))


@HOOKS.register_module()
class PALHook(LabelStoreHook):
    """Runs PAL on a :class:`StoredLabelSegmentor` with an :class:`ActiveSubsetSampler`.

    Before training it builds every image's model-free initial label (:func:`initial_label`)
    in an :class:`ImageLabelStore`, splits the images into easy (at least ``easy_ratio`` of
    their points got a contour) and hard, and trains on the easy ones only. Then, as shares of
    the run (PAL's 400 epochs: 0-20-80-100 %):

    * phase 1, up to ``start_ratio``: easy images only, labels fixed;
    * phase 2, up to ``final_ratio``: every ``interval_ratio`` of the run, the network predicts
      the training images; each active image's label gets :func:`decayed_update`, and each
      hard image whose prediction passes :func:`activation_check` (missed-point tolerance
      rising linearly over the phase from ``miss_range[0]`` to ``miss_range[1]``, at most
      ``max_false_per_point`` false components per point) is activated with its predicted
      label;
    * phase 3: label updates only.

    Predictions are whole images (``infer_window=None``, as PAL) or, to bound the cost on CPU,
    ``infer_window``-pixel squares centred on the points (a pixel outside every square counts
    as background: the update only looks near the labels anyway, but false components far from
    the points are then not seen). The labels and active set are checkpointed under
    ``'pal_labels'``. Every update is logged (phase, images updated, activated, active), and
    ``train/pal_active`` (images trained on) is a logged scalar at every iteration.

    Args:
        start_ratio (float): End of phase 1. Defaults to 0.2.
        final_ratio (float): End of phase 2. Defaults to 0.8.
        interval_ratio (float): Update period as a share of the run.
        miss_range (tuple[float, float]): Missed-point tolerance at the start and end of
            phase 2. Defaults to (0.2, 1.0).
        max_false_per_point (float): Defaults to 5.
        easy_ratio (float): Share of points with a contour that makes an image easy.
            Defaults to 0.8.
        decay (float): Label decay outside the kept candidates. Defaults to 0.97.
        initial_cfg (dict, optional): :func:`initial_point_mask` options (``half_window``,
            ``canny``, ``max_area``).
        evolve_cfg (dict, optional): LESPS rule options (``tb``, ``k``, ``size``).
        infer_window (int, optional): Side of the per-point prediction squares; None for whole
            images.
        infer_batch (int): Inputs per forward pass when predicting. Defaults to 16.
    """

    priority = 'ABOVE_NORMAL'
    checkpoint_key = CHECKPOINT_KEY
    store: Optional[ImageLabelStore]

    def __init__(
        self,
        start_ratio: float = 0.2,
        final_ratio: float = 0.8,
        interval_ratio: float = 0.0125,
        miss_range: Sequence[float] = (0.2, 1.0),
        max_false_per_point: float = 5.0,
        easy_ratio: float = 0.8,
        decay: float = 0.97,
        initial_cfg: Optional[dict] = None,
        evolve_cfg: Optional[dict] = None,
        infer_window: Optional[int] = None,
        infer_batch: int = 16,
    ) -> None:
        if not 0.0 <= start_ratio <= final_ratio <= 1.0:
            raise ValueError(
                'PALHook: need 0 <= start_ratio <= final_ratio <= 1, got '
                f'{start_ratio}, {final_ratio}'
            )
        if not 0.0 < interval_ratio <= 1.0:
            raise ValueError(f'PALHook: interval_ratio must be in (0, 1], got {interval_ratio}')
        if len(miss_range) != 2:
            raise ValueError(f'PALHook: miss_range must be (start, end), got {miss_range}')
        if infer_window is not None and infer_window < 33:
            raise ValueError(
                f'PALHook: infer_window must hold the 33 px neighbourhood, got {infer_window}'
            )
        self.start_ratio, self.final_ratio = float(start_ratio), float(final_ratio)
        self.interval_ratio = float(interval_ratio)
        self.miss_range = (float(miss_range[0]), float(miss_range[1]))
        self.max_false_per_point = float(max_false_per_point)
        self.easy_ratio = float(easy_ratio)
        self.decay = float(decay)
        self.initial_cfg = dict(initial_cfg or {})
        self.evolve_cfg = dict(evolve_cfg or {})
        self.infer_window = infer_window
        self.infer_batch = int(infer_batch)
        super().__init__()
        self.img_paths: List[str] = []
        self.schedule: List[int] = []

    # ------------------------------------------------------------------ setup
    def _build_store(self, dataset, runner) -> ImageLabelStore:
        stems, points, labels, easy = [], [], [], []
        num_points = num_got = 0
        for info in point_label_infos(dataset, 'PAL'):
            pts = as_points(info['gt_points'])
            label, got = initial_label(read_ir_frame(info['img_path']), pts, **self.initial_cfg)
            stems.append(info['stem'])
            points.append(pts)
            labels.append(label)
            easy.append(is_easy(got, self.easy_ratio))
            self.img_paths.append(info['img_path'])
            num_points, num_got = num_points + len(pts), num_got + int(got.sum())
        store = ImageLabelStore(stems, points, labels, easy)
        runner.logger.info(
            f'PALHook: initial labels of {len(store)} images: {int(store.active.sum())} easy, '
            f'{int((~store.active).sum())} hard; {num_got} of {num_points} points got a '
            'contour'
        )
        return store

    def _sampler(self, runner) -> ActiveSubsetSampler:
        sampler = runner.train_dataloader.sampler
        if not isinstance(sampler, ActiveSubsetSampler):
            raise TypeError(
                'PALHook needs train_dataloader.sampler = ActiveSubsetSampler, got '
                f'{type(sampler).__name__}'
            )
        return sampler

    def before_train(self, runner) -> None:
        model = unwrap_model(runner)
        if not hasattr(model, 'attach_label_store'):
            raise TypeError(f'PALHook needs a StoredLabelSegmentor, got {type(model).__name__}')
        sampler = self._sampler(runner)
        if self.store is None:
            self.store = self._build_store(runner.train_dataloader.dataset, runner)
        self._restore_pending(runner)
        model.attach_label_store(self.store)
        sampler.set_active(self.store.active_indices())
        self.schedule = update_iters(runner.max_iters, self.start_ratio, self.interval_ratio)
        self._final_iter = int(round(self.final_ratio * runner.max_iters))
        self._start_iter = max(1, int(round(self.start_ratio * runner.max_iters)))
        runner.logger.info(
            f'PALHook: phase 1 (easy images only) to iteration {self._start_iter}, phase 2 '
            f'(updates + activation) to {self._final_iter}, then phase 3 (updates only); '
            f'label updates after iterations {self.schedule}; active '
            f'{int(self.store.active.sum())}/{len(self.store)} images'
        )

    def _restored_message(self) -> str:
        return 'restored labels and active images from the checkpoint'

    # ------------------------------------------------------------------ prediction
    def _predict(self, model, indices: Sequence[int]) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
        """Probabilities (and where they are known) for the images at ``indices``."""
        images = {i: read_ir_frame(self.img_paths[i]) for i in indices}
        boxes = {
            i: prediction_windows(self.store.points[i], img.shape, self.infer_window)
            for i, img in images.items()
        }
        return predict_windows(model, images, boxes, self.infer_batch)

    # ------------------------------------------------------------------ schedule
    def phase(self, step: int) -> int:
        """1, 2 or 3: the phase the (1-based) iteration ``step`` belongs to."""
        if step < self._start_iter:
            return 1
        return 2 if step <= self._final_iter else 3

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.store is not None:
            runner.message_hub.update_scalar('train/pal_active', float(self.store.active.sum()))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        if step not in self.schedule:
            return
        phase = self.phase(step)
        store = self.store
        active = store.active_indices()
        hard = np.flatnonzero(~store.active).tolist() if phase == 2 else []
        span = max(self._final_iter - self._start_iter, 1)
        tolerance = miss_tolerance((step - self._start_iter) / span, *self.miss_range)
        preds = self._predict(unwrap_model(runner), active + hard)
        evolve = dict(tb=0.5, k=0.5, size=33, **self.evolve_cfg)
        updated = 0
        for i in active:
            pred, seen = preds[i]
            if self.infer_window is not None and not seen.any():
                continue  # no point, no window: nothing known to update from
            store.set_label(
                i,
                decayed_update(
                    store.labels[i],
                    pred,
                    store.points[i],
                    decay=self.decay,
                    observed=seen,
                    **evolve,
                ),
            )
            updated += 1
        activated = 0
        for i in hard:
            pred, seen = preds[i]
            check = activation_check(
                pred, store.points[i], tolerance, self.max_false_per_point, observed=seen
            )
            if check['active']:
                store.set_label(i, check['label'])
                store.active[i] = True
                activated += 1
        if activated:
            self._sampler(runner).set_active(store.active_indices())
        names = {2: 'phase 2 (updates + activation)', 3: 'phase 3 (updates only)'}
        extra = (
            (
                f'; {activated} of {len(hard)} hard images activated (missed-point tolerance '
                f'{tolerance:.2f})'
            )
            if phase == 2
            else ''
        )
        runner.logger.info(
            f'PALHook: iteration {step}, {names[phase]}: labels of {updated} images updated'
            f'{extra}; active {int(store.active.sum())}/{len(store)} images'
        )
