"""What mmgsacp's hooks share."""

import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

#: A window of an image, ``(y0, x0, y1, x1)``.
Box = Tuple[int, int, int, int]


def unwrap_model(runner):
    """The runner's model without its DDP / FSDP wrapper (hooks call the model's own methods)."""
    model = runner.model
    return model.module if is_model_wrapper(model) else model


class LabelStoreHook(Hook):
    """Base of the hooks that own a training label store (``self.store``, with
    ``state_dict`` / ``load_state_dict``) and keep it in checkpoints under ``checkpoint_key``.

    A checkpoint is loaded before ``before_train`` builds the store, so its labels wait in
    ``_pending_state`` until the subclass calls :meth:`_restore_pending` on its new store.
    Labels that do not fit the store (another training set) are not used, with a warning.
    """

    #: Checkpoint entry that holds the store.
    checkpoint_key = ''
    #: What training starts from when checkpoint labels are not used (for the warning).
    initial_labels = 'the initial labels'

    def __init__(self) -> None:
        self.store = None
        self._pending_state: Optional[dict] = None

    def _restored_message(self) -> str:
        """What a successful restore logs (after the hook's name)."""
        return 'restored labels from the checkpoint'

    def _restore_pending(self, runner) -> None:
        if self._pending_state is None or self.store is None:
            return
        state, self._pending_state = self._pending_state, None
        name = type(self).__name__
        try:
            self.store.load_state_dict(state)
        except ValueError as err:
            runner.logger.warning(
                f'{name}: checkpoint labels not used ({err}); starting again from '
                f'{self.initial_labels}'
            )
            return
        runner.logger.info(f'{name}: {self._restored_message()}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.store is not None:
            checkpoint[self.checkpoint_key] = self.store.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(self.checkpoint_key)
        if state is None:
            return
        self._pending_state = state
        self._restore_pending(runner)


def point_windows(points: np.ndarray, shape: Tuple[int, int], size: int) -> List[Box]:
    """``size x size`` boxes (y0, x0, y1, x1) centred on each point, shifted inside the
    image (the whole side when the image is smaller)."""
    h, w = shape
    boxes = []
    for x, y in np.asarray(points).reshape(-1, 2).tolist():
        bh, bw = min(size, h), min(size, w)
        y0 = min(max(y - bh // 2, 0), h - bh)
        x0 = min(max(x - bw // 2, 0), w - bw)
        boxes.append((int(y0), int(x0), int(y0 + bh), int(x0 + bw)))
    return boxes


def prediction_windows(
    points: np.ndarray, shape: Tuple[int, int], window: Optional[int]
) -> List[Box]:
    """The boxes a label-update pass predicts: the whole image (``window=None``) or
    ``window``-pixel squares around the points (:func:`point_windows`)."""
    if window is None:
        return [(0, 0) + tuple(shape)]
    return point_windows(points, shape, window)


@torch.no_grad()
def predict_windows(
    model, images: Dict[int, np.ndarray], boxes: Dict[int, Sequence[Box]], batch: int = 16
) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """Target probabilities of a segmentor on windows of whole training images, as a
    label-update pass sees them (PAL and LESPS update their labels from such a pass).

    The model runs in eval mode (running normalisation statistics, no dropout), on raw
    intensities normalised by its data preprocessor, windows of one size batched together and
    padded to a multiple of 32. Where windows overlap, a pixel takes their maximum.

    Args:
        model: A segmentor with ``data_preprocessor``, ``extract_feat``, ``decode_head`` and
            ``align_corners``.
        images (dict[int, np.ndarray]): ``(H, W)`` float intensities, by image index.
        boxes (dict[int, Sequence[Box]]): The windows of each image (``(y0, x0, y1, x1)``).
        batch (int): Windows per forward pass.

    Returns:
        dict[int, tuple[np.ndarray, np.ndarray]]: Per image, ``(H, W)`` float32
        probabilities (0 outside every window) and ``(H, W)`` bool, the pixel lies in a window.
    """
    pre = model.data_preprocessor
    mean = pre.mean.view(-1).float().cpu() if getattr(pre, 'mean', None) is not None else None
    std = pre.std.view(-1).float().cpu() if getattr(pre, 'std', None) is not None else None
    device = next(model.parameters()).device
    jobs = defaultdict(list)  # (h, w) -> [(index, box)]
    for i, image_boxes in boxes.items():
        for box in image_boxes:
            jobs[(box[2] - box[0], box[3] - box[1])].append((i, box))
    out = {
        i: (np.zeros(img.shape, np.float32), np.zeros(img.shape, bool)) for i, img in images.items()
    }
    was_training = model.training
    model.eval()
    try:
        for (h, w), items in jobs.items():
            ph, pw = math.ceil(h / 32) * 32, math.ceil(w / 32) * 32
            for s in range(0, len(items), batch):
                chunk = items[s : s + batch]
                x = torch.zeros(len(chunk), 1, ph, pw)
                for n, (i, (y0, x0, y1, x1)) in enumerate(chunk):
                    crop = torch.from_numpy(images[i][y0:y1, x0:x1])
                    if mean is not None:
                        crop = crop - mean[0]
                    if std is not None:
                        crop = crop / std[0]
                    x[n, 0, :h, :w] = crop
                logits = model.decode_head.forward(model.extract_feat(x.to(device)))
                logits = F.interpolate(
                    logits, size=(ph, pw), mode='bilinear', align_corners=model.align_corners
                )
                probs = torch.sigmoid(logits[:, 0, :h, :w]).float().cpu().numpy()
                for n, (i, (y0, x0, y1, x1)) in enumerate(chunk):
                    prob, seen = out[i]
                    np.maximum(prob[y0:y1, x0:x1], probs[n], out=prob[y0:y1, x0:x1])
                    seen[y0:y1, x0:x1] = True
    finally:
        model.train(was_training)
    return out
