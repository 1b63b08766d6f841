"""Base of the segmentors trained on labels that a hook holds and rewrites during training."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from mmseg.utils import add_prefix
from torch import Tensor

from ...datasets.transforms.coordinates import COORDS_KEY, split_pixel_coords
from .ir_encoder_decoder import IREncoderDecoder


class CropBatch(NamedTuple):
    """A training batch of crops with the labels read for them from the store."""

    inputs: Tensor  #: (B, C, h, w) images
    logits: Tensor  #: (B, 1, h', w') decode-head logits
    labels: Tensor  #: (B, h, w) training labels, 255 where ignored
    data_samples: list  #: the batch's data samples
    coords: Tensor  #: (B, h, w, 2) long original (x, y) of every pixel
    valid: Tensor  #: (B, h, w) bool, the pixel is not padding


class LabelStoreSegmentor(IREncoderDecoder):
    """:class:`IREncoderDecoder` whose training labels come from a store that a hook owns.

    The hook (``LabelEvolutionHook``, ``PALHook``) builds the store, checkpoints it and attaches
    it with :meth:`attach_label_store`. The segmentor keeps it in a plain list, out of
    ``state_dict()`` and module traversal. Training samples carry ``pixel_coords``, which
    :meth:`_coords` batches, to read each crop's labels from the store. The full masks serve
    monitoring only, so an auxiliary head, which would train on them, is refused.

    Attributes:
        monitor_request (bool): Set by ``DriftMonitorHook``: report this step's label
            statistics in :attr:`monitor_state`.
        monitor_state (dict): The statistics of the last requested step.

    Args:
        **kwargs: :class:`IREncoderDecoder` arguments, without ``auxiliary_head``.
    """

    #: The hook that attaches the store, as the error for a missing store names it.
    store_hook = 'the hook that attaches its label store'

    def __init__(self, **kwargs) -> None:
        if kwargs.get('auxiliary_head') is not None:
            raise ValueError(
                f'{type(self).__name__} does not take an auxiliary head: it '
                'would be trained on the full masks'
            )
        super().__init__(**kwargs)
        self._label_store: List[Any] = []
        self.monitor_request: bool = False
        self.monitor_state: Dict[str, object] = {}

    @property
    def label_store(self) -> Optional[Any]:
        return self._label_store[0] if self._label_store else None

    def attach_label_store(self, store: Any) -> None:
        """Use ``store`` for the training labels."""
        self._label_store[:] = [store]

    def graph_state_key(self):
        """None: label-store steps are never captured in a CUDA graph (their hooks replace
        the stores between steps, and the steps read them through Python)."""
        return None

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """The decode head's losses on the crops' labels read from the store, and the entries
        :meth:`label_step` adds (under the ``decode.`` prefix)."""
        logits = self.decode_head.forward(self.extract_feat(inputs))
        coords, valid = self._coords(data_samples, inputs.shape[-2:], inputs.device)
        labels = self.crop_labels(data_samples, coords, valid)
        losses = self.decode_head.losses_from_labels(logits, labels)
        losses.update(
            self.label_step(CropBatch(inputs, logits, labels, data_samples, coords, valid))
        )
        return add_prefix(losses, 'decode')

    def crop_labels(self, data_samples, coords: Tensor, valid: Tensor) -> Tensor:
        """(B, h, w) training labels of the batch's crops, read from the store through the
        coordinates; 255 where ignored."""
        raise NotImplementedError

    def label_step(self, batch: CropBatch) -> Dict[str, Tensor]:
        """What a method does with the labels on a training step after the losses (updates,
        monitoring); returns extra (logged) entries of the loss dict."""
        return {}

    def _answer_monitor(self, stats: Callable[[], Dict[str, float]]) -> None:
        """Store ``stats()`` for the drift monitor if it asked for this step's statistics."""
        if self.monitor_request:
            self.monitor_request = False
            self.monitor_state = dict(stats=stats())

    def _attached_store(self) -> Any:
        """The attached store.

        Raises:
            RuntimeError: None is attached (the error names :attr:`store_hook`).
        """
        store = self.label_store
        if store is None:
            raise RuntimeError(
                f'{type(self).__name__} has no label store: train it with {self.store_hook}'
            )
        return store

    @staticmethod
    def _stems(data_samples) -> List[str]:
        """Each sample's ``stem`` metainfo, the key of its labels in the store.

        Raises:
            KeyError: Naming the first sample without one.
        """
        stems = []
        for b, sample in enumerate(data_samples):
            stem = sample.metainfo.get('stem')
            if stem is None:
                raise KeyError(f'data sample {b} has no stem in its metainfo')
            stems.append(stem)
        return stems

    @staticmethod
    def _coords(data_samples, size: Tuple[int, int], device) -> Tuple[Tensor, Tensor]:
        """(B, h, w, 2) coordinates and (B, h, w) validity at the (padded) input size."""
        h, w = size
        coords = torch.zeros(len(data_samples), h, w, 2, dtype=torch.long, device=device)
        valid = torch.zeros(len(data_samples), h, w, dtype=torch.bool, device=device)
        for b, sample in enumerate(data_samples):
            if COORDS_KEY not in sample:
                raise KeyError(
                    f'data sample {b} ({sample.metainfo.get("img_path", "?")}) has no '
                    f"'{COORDS_KEY}': the LESPS train pipeline needs LoadPixelCoordinates and "
                    'PackIRInputsWithCoords'
                )
            c, v = split_pixel_coords(sample.get(COORDS_KEY).to(device))
            # batch padding (bottom / right) stays invalid
            coords[b, : c.shape[0], : c.shape[1]] = c
            valid[b, : v.shape[0], : v.shape[1]] = v
        return coords, valid
