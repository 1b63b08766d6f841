"""LESPS label evolution: schedule and storage of the evolving labels."""

from __future__ import annotations

import math
from typing import Optional

from mmengine.dist import all_gather_object, get_world_size
from mmseg.registry import HOOKS

from ...models.utils.label_evolution import PatchLabelStore
from .utils import LabelStoreHook, unwrap_model

CHECKPOINT_KEY = 'lesps_labels'


def is_update_epoch(epoch: int, start_epoch: int, interval: int) -> bool:
    """Whether labels evolve during (0-based) ``epoch``: from ``start_epoch``, every
    ``interval`` epochs."""
    return epoch >= start_epoch and (epoch - start_epoch) % interval == 0


@HOOKS.register_module()
class LabelEvolutionHook(LabelStoreHook):
    """Owns LESPS's evolving labels and says when a :class:`LabelEvolutionSegmentor` updates them.

    Before training it builds a :class:`PatchLabelStore` from the training set's point labels
    (or restores the checkpointed one) and attaches it to the model. Training is
    iteration-based, so epochs are counted in iterations: one epoch is
    ``ceil(len(train set) / (batch size * world size))`` iterations. Every iteration of an
    update epoch (``start_epoch``, then every ``interval`` epochs) is an update step: the model
    evolves the labels of the points its crops hold, so each image is updated about once per
    update epoch, online, from the current network, as LESPS does. The staged updates are
    written after the step (gathered from all ranks in distributed training, so every rank keeps
    the same labels), saved in checkpoints under ``'lesps_labels'`` and restored on resume /
    ``load_from``.

    Args:
        start_epoch (int, optional): First update epoch (0-based).
        interval (int): Epochs between update epochs (LESPS's ``f``). Defaults to 5.
        start_ratio (float, optional): The first update epoch as a share of the run instead:
            ``floor(start_ratio * max_iters / epoch_iters)``, read from the run, so
            ``--cfg-options train_cfg.max_iters=N`` moves it too (LESPS starts at epoch 50 of
            400: 0.125). Exactly one of ``start_epoch`` and ``start_ratio`` is given.
        patch_size (int): Odd side of each point's stored label patch. Larger than the 33 px
            neighbourhood so the neighbourhood can follow its component's centroid when that
            drifts from the point. Defaults to 41.
    """

    priority = 'ABOVE_NORMAL'
    checkpoint_key = CHECKPOINT_KEY
    store: Optional[PatchLabelStore]
    initial_labels = 'the point labels'

    def __init__(
        self,
        start_epoch: Optional[int] = None,
        interval: int = 5,
        patch_size: int = 41,
        start_ratio: Optional[float] = None,
    ) -> None:
        if (start_epoch is None) == (start_ratio is None):
            raise ValueError(
                'LabelEvolutionHook: give exactly one of start_epoch and '
                f'start_ratio, got start_epoch={start_epoch}, '
                f'start_ratio={start_ratio}'
            )
        if start_epoch is not None and start_epoch < 0:
            raise ValueError(f'LabelEvolutionHook: start_epoch must be >= 0, got {start_epoch}')
        if start_ratio is not None and not 0.0 <= start_ratio < 1.0:
            raise ValueError(
                f'LabelEvolutionHook: start_ratio must be in [0, 1), got {start_ratio}'
            )
        if interval < 1:
            raise ValueError(f'LabelEvolutionHook: interval must be >= 1, got {interval}')
        if patch_size % 2 != 1:
            raise ValueError(f'LabelEvolutionHook: patch_size must be odd, got {patch_size}')
        self.start_epoch = None if start_epoch is None else int(start_epoch)
        self.start_ratio = start_ratio
        self.interval = int(interval)
        self.patch_size = int(patch_size)
        super().__init__()
        self.epoch_iters: Optional[int] = None
        self._updating = False
        self._epoch_written = 0

    def _restored_message(self) -> str:
        return f'restored {len(self.store)} evolved point labels from the checkpoint'

    def before_train(self, runner) -> None:
        model = unwrap_model(runner)
        if not hasattr(model, 'attach_label_store'):
            raise TypeError(
                f'LabelEvolutionHook needs a LabelEvolutionSegmentor, got {type(model).__name__}'
            )
        loader = runner.train_dataloader
        dataset = loader.dataset
        self.epoch_iters = max(1, math.ceil(len(dataset) / (loader.batch_size * get_world_size())))
        if self.start_ratio is not None:
            self.start_epoch = int(self.start_ratio * runner.max_iters / self.epoch_iters)
        if self.store is None:
            self.store = PatchLabelStore.from_dataset(dataset, self.patch_size)
        self._restore_pending(runner)
        model.attach_label_store(self.store)
        mib = self.store.patches.numel() * self.store.patches.element_size() / 2**20
        runner.logger.info(
            f'LabelEvolutionHook: {len(self.store)} point labels of {len(self.store.stems)} '
            f'images in {self.patch_size}x{self.patch_size} patches ({mib:.1f} MiB); epoch = '
            f'{self.epoch_iters} iterations; updates from epoch {self.start_epoch} every '
            f'{self.interval} epochs (first at iteration {self.start_epoch * self.epoch_iters})'
        )

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        epoch = runner.iter // self.epoch_iters
        self._updating = is_update_epoch(epoch, self.start_epoch, self.interval)
        unwrap_model(runner).evolve_request = self._updating

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        unwrap_model(runner).evolve_request = False
        if not self._updating:
            return
        # every rank takes this branch on the same iterations (the schedule is global), so the
        # collective cannot hang
        gather = all_gather_object if get_world_size() > 1 else None
        self._epoch_written += self.store.commit(gather)
        if (runner.iter + 1) % self.epoch_iters == 0 or runner.iter + 1 == runner.max_iters:
            area, mass = self.store.label_area().float(), self.store.label_mass()
            mean, peak, soft = (
                (float(area.mean()), int(area.max()), float(mass.mean()))
                if len(area)
                else (0.0, 0, 0.0)
            )
            runner.logger.info(
                f'LabelEvolutionHook: epoch {runner.iter // self.epoch_iters} evolved '
                f'{self._epoch_written} point labels; label area (>= 0.5) mean {mean:.1f} px, '
                f'max {peak} px; soft label mass mean {soft:.2f} px'
            )
            self._epoch_written = 0
