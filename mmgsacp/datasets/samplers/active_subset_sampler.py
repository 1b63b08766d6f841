"""An infinite sampler over a subset of the dataset that a hook can change during training."""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class ActiveSubsetSampler(Sampler):
    """Endless shuffled passes over the *active* images only (PAL's growing training set).

    Like MMEngine's ``InfiniteSampler``, but each pass is a permutation of the indices set by
    :meth:`set_active` (all images until then). A change takes effect at once: the current pass
    is dropped and a new one over the new set begins. The sampler runs in the main process
    (DataLoader workers only load what it yields), so a hook may call :meth:`set_active` at any
    iteration. In distributed training every rank draws the same permutation (shared seed) and
    takes every ``world_size``-th index of it.

    Args:
        dataset: The training set (only its length is used).
        shuffle (bool): Permute each pass. Defaults to True.
        seed (int, optional): Permutation seed; a random one shared across ranks if None.
    """

    def __init__(self, dataset, shuffle: bool = True, seed: Optional[int] = None) -> None:
        self.size = len(dataset)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.rank, self.world_size = get_dist_info()
        self.active = list(range(self.size))
        self.version = 0

    def set_active(self, indices: Sequence[int]) -> None:
        """Train on ``indices`` (dataset positions) from the next sample on.

        Raises:
            ValueError: an index is outside the dataset or the set is empty.
        """
        indices = sorted(int(i) for i in indices)
        if not indices:
            raise ValueError('ActiveSubsetSampler: the active set is empty')
        if indices[0] < 0 or indices[-1] >= self.size:
            raise ValueError(f'ActiveSubsetSampler: index out of range 0..{self.size - 1}')
        self.active = indices
        self.version += 1

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator()
        gen.manual_seed(self.seed)
        while True:
            version, active = self.version, self.active
            order = (
                torch.randperm(len(active), generator=gen).tolist()
                if self.shuffle
                else list(range(len(active)))
            )
            for pos in order[self.rank :: self.world_size]:
                if self.version != version:
                    break
                yield active[pos]

    def __len__(self) -> int:
        return len(self.active)

    def set_epoch(self, epoch: int) -> None:
        """Not used: passes continue the same random stream."""
