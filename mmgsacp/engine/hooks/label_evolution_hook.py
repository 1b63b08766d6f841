"""LESPS label evolution: schedule and storage of the evolving labels."""

from __future__ import annotations

import math
from typing import List, Optional

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size
from mmseg.registry import HOOKS
from torch import Tensor

from ...apis.inference import read_ir_frame
from ...models.utils.label_evolution import PatchLabelStore, crop_to_patches, evolve_patches
from ...models.utils.label_store import point_label_infos
from .utils import (
    LabelStoreHook,
    predict_windows,
    prediction_windows,
    unwrap_model,
)

CHECKPOINT_KEY = 'lesps_labels'
#: Checkpoint entry of the first update epoch when the loss decides it (``start_loss``).
START_KEY = 'lesps_start_epoch'
#: How the labels are updated: from the training steps' own predictions on their crops, or by a
#: pass of the network over the training images after each update epoch.
UPDATES = ('online', 'pass')


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
    ``ceil(len(train set) / (batch size * world size))`` iterations. Update epochs are the
    first update epoch, then every ``interval`` epochs. The first is given (``start_epoch``), a
    share of the run (``start_ratio``, LESPS's paper: epoch 50 of 400), or decided by the loss
    (``start_loss``, LESPS's later code: after the first epoch whose mean loss is below 10).
    Two forms of update:

    * ``'online'``: every iteration of an update epoch is an update step: the model evolves
      the labels of the points its crops hold from the step's own (training-mode) prediction,
      so each image is updated about once per update epoch, by a network that changes during
      the epoch. The staged updates are written after the step (gathered from all ranks in
      distributed training, so every rank keeps the same labels). It costs nothing extra.
    * ``'pass'``: as LESPS's code does it: after the last iteration of an update epoch, the
      network in eval mode predicts every training image (whole, or ``infer_window``-pixel
      squares around its points to bound the cost on CPU: the rule only looks within 16 px of
      a label component) and every point's label is updated from that prediction at once.
      Every rank runs the same pass, so their labels stay equal without a gather.

    The labels are saved in checkpoints under ``'lesps_labels'`` and restored on resume /
    ``load_from``.

    Args:
        start_epoch (int, optional): First update epoch (0-based).
        interval (int): Epochs between update epochs (LESPS's ``f``). Defaults to 5.
        start_ratio (float, optional): The first update epoch as a share of the run instead:
            ``floor(start_ratio * max_iters / epoch_iters)``, read from the run, so
            ``--cfg-options train_cfg.max_iters=N`` moves it too (LESPS starts at epoch 50 of
            400: 0.125).
        start_loss (float, optional): Or the first update follows the first epoch whose mean
            training loss (``outputs['loss']``, summed on the device, averaged over the ranks
            and read once an epoch) is below this: a pass right after that epoch, or with
            ``'online'`` the next epoch. The loss's scale depends on the network and the loss
            (LESPS's 10 is on its networks' scale: DNANet's four deep-supervision outputs add
            up). The epoch found is kept in checkpoints (``'lesps_start_epoch'``); after a
            resume inside an epoch, that epoch's mean covers the iterations since the resume.
            Exactly one of ``start_epoch``, ``start_ratio`` and ``start_loss`` is given.
        patch_size (int): Odd side of each point's stored label patch. Larger than the 33 px
            neighbourhood so the neighbourhood can follow its component's centroid when that
            drifts from the point. Defaults to 41.
        update (str): ``'online'`` (default) or ``'pass'``, see above.
        infer_window (int, optional): ``'pass'`` only: side of the prediction squares around
            the points, at least ``patch_size``; None predicts whole images. Defaults to 64.
        infer_batch (int): ``'pass'`` only: windows per forward pass. Defaults to 16.
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
        update: str = 'online',
        infer_window: Optional[int] = 64,
        infer_batch: int = 16,
        start_loss: Optional[float] = None,
    ) -> None:
        starts = dict(start_epoch=start_epoch, start_ratio=start_ratio, start_loss=start_loss)
        if sum(v is not None for v in starts.values()) != 1:
            given = ', '.join(f'{k}={v}' for k, v in starts.items())
            raise ValueError(
                'LabelEvolutionHook: give exactly one of start_epoch, start_ratio and '
                f'start_loss, got {given}'
            )
        if start_epoch is not None and start_epoch < 0:
            raise ValueError(f'LabelEvolutionHook: start_epoch must be >= 0, got {start_epoch}')
        if start_ratio is not None and not 0.0 <= start_ratio < 1.0:
            raise ValueError(
                f'LabelEvolutionHook: start_ratio must be in [0, 1), got {start_ratio}'
            )
        if start_loss is not None and not start_loss > 0:
            raise ValueError(f'LabelEvolutionHook: start_loss must be > 0, got {start_loss}')
        if interval < 1:
            raise ValueError(f'LabelEvolutionHook: interval must be >= 1, got {interval}')
        if patch_size % 2 != 1:
            raise ValueError(f'LabelEvolutionHook: patch_size must be odd, got {patch_size}')
        if update not in UPDATES:
            raise ValueError(f'LabelEvolutionHook: update must be one of {UPDATES}, got {update!r}')
        if infer_window is not None and infer_window < patch_size:
            raise ValueError(
                f'LabelEvolutionHook: infer_window ({infer_window}) must hold a label patch '
                f'({patch_size} px)'
            )
        if infer_batch < 1:
            raise ValueError(f'LabelEvolutionHook: infer_batch must be >= 1, got {infer_batch}')
        self.start_epoch = None if start_epoch is None else int(start_epoch)
        self.start_ratio = start_ratio
        self.start_loss = None if start_loss is None else float(start_loss)
        self.interval = int(interval)
        self.patch_size = int(patch_size)
        self.update = update
        self.infer_window = None if infer_window is None else int(infer_window)
        self.infer_batch = int(infer_batch)
        super().__init__()
        self.img_paths: List[str] = []
        self.epoch_iters: Optional[int] = None
        self._updating = False
        self._epoch_written = 0
        self._loss_sum: Optional[Tensor] = None
        self._loss_iters = 0

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
        if self.update == 'pass':
            if model.evolve_cfg['area_ref'] != 'image':
                raise ValueError(
                    "LabelEvolutionHook: update='pass' predicts whole images, so the threshold's "
                    "area must be the image's (evolve_cfg.area_ref='image'), got "
                    f'{model.evolve_cfg["area_ref"]!r}'
                )
            self.img_paths = [info['img_path'] for info in point_label_infos(dataset, 'LESPS')]
        self._restore_pending(runner)
        model.attach_label_store(self.store)
        mib = self.store.patches.numel() * self.store.patches.element_size() / 2**20
        if self.start_epoch is None:
            first = 'the first pass' if self.update == 'pass' else 'the first update epoch'
            schedule = (
                f'{first} follows the first epoch whose mean loss is below '
                f'{self.start_loss:g}, then every {self.interval} epochs, {self.update}'
            )
        else:
            if self.update == 'online':
                how = (
                    'online on the training crops, from iteration '
                    f'{self.start_epoch * self.epoch_iters + 1}'
                )
            else:
                how = (
                    'by a pass over the training images after each update epoch, the first '
                    f'after iteration {(self.start_epoch + 1) * self.epoch_iters}'
                )
            schedule = f'updates from epoch {self.start_epoch} every {self.interval} epochs, {how}'
        runner.logger.info(
            f'LabelEvolutionHook: {len(self.store)} point labels of {len(self.store.stems)} '
            f'images in {self.patch_size}x{self.patch_size} patches ({mib:.1f} MiB); epoch = '
            f'{self.epoch_iters} iterations; {schedule}'
        )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        super().before_save_checkpoint(runner, checkpoint)
        if self.start_loss is not None:
            checkpoint[START_KEY] = self.start_epoch

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        super().after_load_checkpoint(runner, checkpoint)
        if self.start_loss is not None:
            self.start_epoch = checkpoint.get(START_KEY)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        epoch = runner.iter // self.epoch_iters
        self._updating = self.start_epoch is not None and is_update_epoch(
            epoch, self.start_epoch, self.interval
        )
        unwrap_model(runner).evolve_request = self._updating and self.update == 'online'

    def _watch_loss(self, runner, outputs, epoch_end: bool) -> None:
        """Before the first update, sum the loss and, at an epoch's end, start the updates if
        the epoch's mean is below ``start_loss``."""
        loss = outputs.get('loss') if isinstance(outputs, dict) else None
        if not isinstance(loss, Tensor):
            raise KeyError(
                "LabelEvolutionHook: start_loss reads the training step's outputs['loss'], "
                f'which this model does not return (got {type(outputs).__name__})'
            )
        loss = loss.detach().float()
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        self._loss_iters += 1
        if not epoch_end:
            return
        epoch = runner.iter // self.epoch_iters
        mean = self._loss_sum / self._loss_iters
        # every rank must decide alike, or the online updates' gather would wait on the others
        all_reduce(mean, op='mean')
        mean = float(mean)  # one read an epoch
        self._loss_sum, self._loss_iters = None, 0
        if not mean < self.start_loss:
            return
        # a pass follows this epoch at once; online updates need the epoch's steps, so the next
        self.start_epoch = epoch if self.update == 'pass' else epoch + 1
        self._updating = self.update == 'pass'
        runner.logger.info(
            f'LabelEvolutionHook: epoch {epoch} mean loss {mean:.4f} < {self.start_loss:g}: '
            f'label evolution starts with epoch {self.start_epoch}'
        )

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        unwrap_model(runner).evolve_request = False
        epoch_end = (runner.iter + 1) % self.epoch_iters == 0
        if self.start_epoch is None:
            self._watch_loss(runner, outputs, epoch_end)
        if not self._updating:
            return
        if self.update == 'pass':
            if not epoch_end:
                return
            self._epoch_written = self.update_pass(unwrap_model(runner))
        else:
            # every rank takes this branch on the same iterations (the schedule is global), so
            # the collective cannot hang
            gather = all_gather_object if get_world_size() > 1 else None
            self._epoch_written += self.store.commit(gather)
        if epoch_end or runner.iter + 1 == runner.max_iters:
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

    def update_pass(self, model, images_per_chunk: int = 64) -> int:
        """One LESPS update of every point's label from the network's prediction of the
        training images (eval mode, the model as it is now).

        Every label is updated from the same old labels; images are predicted
        ``images_per_chunk`` at a time to bound memory.

        Returns:
            int: Number of point labels updated.
        """
        store, cfg = self.store, model.evolve_cfg
        device = store.patches.device
        s = store.patch_size
        with_points = [
            i
            for i in range(len(store.stems))
            if int(store.row_start[i + 1]) > int(store.row_start[i])
        ]
        for start in range(0, len(with_points), images_per_chunk):
            chunk = with_points[start : start + images_per_chunk]
            images = {i: read_ir_frame(self.img_paths[i]) for i in chunk}
            rows = {i: store.rows(store.stems[i]) for i in chunk}
            window = self.infer_window
            boxes = {
                i: prediction_windows(store.points[rows[i]].numpy(), images[i].shape, window)
                for i in chunk
            }
            preds = predict_windows(model, images, boxes, self.infer_batch)
            all_rows, patch_preds, observed, areas = [], [], [], []
            for i in chunk:
                prob, seen = (torch.from_numpy(a) for a in preds[i])
                h, w = prob.shape
                ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
                pred, obs = crop_to_patches(
                    prob, torch.stack([xs, ys], -1), seen, store.points[rows[i]], s
                )
                all_rows.append(rows[i])
                patch_preds.append(pred)
                observed.append(obs)
                areas.append(torch.full((len(rows[i]),), float(h * w)))
            r = torch.cat(all_rows)
            new = evolve_patches(
                store.patches[r].float(),
                torch.cat(patch_preds),
                torch.cat(observed),
                store.anchors[r],
                torch.cat(areas),
                tb=cfg['tb'],
                k=cfg['k'],
                size=int(cfg['size']),
                area_ratio=cfg['area_ratio'],
            )
            store.stage(r, new.to(device))
        # every rank ran the same pass on the same weights: no gather
        return store.commit()
