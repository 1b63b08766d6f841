"""Small argument checks shared by transforms, data preprocessors and benchmarks."""

from typing import Sequence, Tuple, Union


def hw_pair(size: Union[int, Sequence[int]], name: str = 'crop_size') -> Tuple[int, int]:
    """A size given as ``s`` or ``(h, w)`` as a positive ``(h, w)`` of ints.

    Args:
        size: One side for a square, or ``(h, w)``.
        name: The option's name, for the error message.

    Returns:
        ``(h, w)``.

    Raises:
        ValueError: Not two sides, a side that is not a whole number, or a side below 1.
    """
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or any(int(v) != v or v < 1 for v in hw):
        raise ValueError(f'{name} must be a positive (h, w) of integers, got {size!r}')
    return int(hw[0]), int(hw[1])
