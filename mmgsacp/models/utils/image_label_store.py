"""Full-size 8-bit training labels of a training set, with the set of images trained on."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch
from torch import Tensor

from .label_store import StemIndexedStore


class ImageLabelStore(StemIndexedStore):
    """One (H, W) uint8 label map per training image, and which images are active.

    PAL keeps its labels as 8-bit images (0..255, target above 127.5) and trains only on the
    active images; this store holds both in memory, in dataset order. Checkpoints keep only the
    non-zero pixels (the labels are sparse), as tensors that ``torch.load(weights_only=True)``
    accepts.

    Args:
        stems (Sequence[str]): Image identifiers, unique, in dataset order.
        points (Sequence[np.ndarray]): Per image, (K_i, 2) integer (x, y) points.
        labels (Sequence[np.ndarray]): Per image, (H_i, W_i) uint8 initial label.
        active (Sequence[bool]): Per image, trained on from the start.
    """

    labels_name = 'stored labels'

    def __init__(
        self,
        stems: Sequence[str],
        points: Sequence[np.ndarray],
        labels: Sequence[np.ndarray],
        active: Sequence[bool],
    ) -> None:
        if not len(stems) == len(points) == len(labels) == len(active):
            raise ValueError(
                f'{len(stems)} stems, {len(points)} point arrays, {len(labels)} '
                f'labels and {len(active)} active flags: one each per image'
            )
        self._index_stems(stems)
        self.points = [np.asarray(p, np.int64).reshape(-1, 2) for p in points]
        self.labels = [np.ascontiguousarray(lab, dtype=np.uint8) for lab in labels]
        self.active = np.asarray(active, bool).copy()
        #: Per image, how many updates rewrote its label.
        self.num_updates = np.zeros(len(self.stems), np.int64)

    def __len__(self) -> int:
        return len(self.stems)

    def crop(self, stem: str, coords: Tensor, valid: Tensor) -> Tensor:
        """An image's label on a (transformed) training crop.

        Args:
            stem (str): The image.
            coords (Tensor): (h, w, 2) long original (x, y) of each crop pixel.
            valid (Tensor): (h, w) bool, the crop pixel comes from the image.

        Returns:
            Tensor: (h, w) uint8 stored values, 0 where not valid.
        """
        lab = torch.from_numpy(self.labels[self.position(stem)]).to(coords.device)
        h, w = lab.shape
        x = coords[..., 0].clamp(0, w - 1)
        y = coords[..., 1].clamp(0, h - 1)
        return torch.where(
            valid, lab[y, x], torch.zeros((), dtype=torch.uint8, device=coords.device)
        )

    def set_label(self, i: int, label: np.ndarray) -> None:
        """Replace image ``i``'s label (same size)."""
        if label.shape != self.labels[i].shape:
            raise ValueError(
                f'new label of {self.stems[i]!r} is {label.shape}, stored {self.labels[i].shape}'
            )
        self.labels[i] = np.ascontiguousarray(label, dtype=np.uint8)
        self.num_updates[i] += 1

    def active_indices(self) -> List[int]:
        return np.flatnonzero(self.active).tolist()

    def state_dict(self) -> dict:
        """Sparse labels (non-zero pixels), shapes and active flags, as tensors."""
        shapes, offsets, flat, values = [], [0], [], []
        for lab in self.labels:
            idx = np.flatnonzero(lab)
            shapes.append(lab.shape)
            flat.append(idx)
            values.append(lab.reshape(-1)[idx])
            offsets.append(offsets[-1] + len(idx))
        return dict(
            stems=list(self.stems),
            shapes=torch.tensor(shapes, dtype=torch.long).reshape(-1, 2),
            offsets=torch.tensor(offsets, dtype=torch.long),
            flat=torch.from_numpy(np.concatenate(flat) if flat else np.zeros(0, np.int64)),
            values=torch.from_numpy(np.concatenate(values) if values else np.zeros(0, np.uint8)),
            active=torch.from_numpy(self.active.copy()),
            num_updates=torch.from_numpy(self.num_updates.copy()),
        )

    def load_state_dict(self, state: dict) -> None:
        """Restore saved labels.

        Raises:
            ValueError: the saved labels belong to other images or image sizes.
        """
        if list(state['stems']) != self.stems:
            raise ValueError('saved labels list other images (or another order)')
        shapes = state['shapes'].tolist()
        if [list(lab.shape) for lab in self.labels] != shapes:
            raise ValueError('saved labels have other image sizes')
        offsets = state['offsets'].tolist()
        flat, values = state['flat'].numpy(), state['values'].numpy()
        labels = []
        for i, (h, w) in enumerate(shapes):
            lab = np.zeros(h * w, np.uint8)
            sl = slice(offsets[i], offsets[i + 1])
            lab[flat[sl]] = values[sl]
            labels.append(lab.reshape(h, w))
        self.labels = labels
        self.active = state['active'].numpy().astype(bool).copy()
        self.num_updates = state['num_updates'].numpy().copy()
