"""What the training label stores share: per-image lookup by stem, and the point-labelled
training set they are built from."""

from __future__ import annotations

from typing import Dict, Iterator, List, Sequence


class StemIndexedStore:
    """Base of the stores that keep labels per training image, found by the image's stem.

    Subclasses call :meth:`_index_stems` once, in dataset order, and name what they keep in
    ``labels_name`` (error messages use it).
    """

    #: What the store keeps per image, as error messages call it.
    labels_name = 'labels'

    stems: List[str]
    index: Dict[str, int]

    def _index_stems(self, stems: Sequence[str]) -> None:
        """Set ``stems`` and the stem -> dataset index map.

        Raises:
            ValueError: a stem appears twice.
        """
        self.stems = list(stems)
        self.index = {}
        for i, stem in enumerate(self.stems):
            if stem in self.index:
                raise ValueError(
                    f'image {stem!r} appears twice in the training set; '
                    f'{self.labels_name} are kept per image'
                )
            self.index[stem] = i

    def position(self, stem: str) -> int:
        """Dataset index of an image.

        Raises:
            KeyError: the image is not in the store.
        """
        if stem not in self.index:
            raise KeyError(
                f'image {stem!r} has no {self.labels_name}: the store was built from another '
                'training set'
            )
        return self.index[stem]


def point_label_infos(dataset, method: str) -> Iterator[dict]:
    """The data infos of a training set, in order, each with ``stem`` and ``gt_points``.

    Args:
        dataset: A dataset with ``get_data_info`` (e.g. :class:`PointSIRSTDataset`).
        method (str): The method that needs the point labels, for the error message.

    Raises:
        KeyError: an image has no ``stem`` or ``gt_points`` (its path is named).
    """
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'stem' not in info or 'gt_points' not in info:
            raise KeyError(
                f"training image {info.get('img_path', i)} has no 'stem' or "
                f"'gt_points': {method} needs a dataset with point labels "
                '(e.g. PointSIRSTDataset with point_type set)'
            )
        yield info
