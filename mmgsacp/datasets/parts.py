"""Which public set a SIRST3 image comes from, read off its file name.

SIRST3 is the union of three sets whose file names never collide, so the name alone tells the
part. This module is the single place that rule lives; the dataset, the metric and the
evaluation tools all import it.

| part          | file stems               |
|---------------|--------------------------|
| NUAA-SIRST    | ``Misc_*``               |
| NUDT-SIRST    | six digits (``000001``)  |
| IRSTD-1K      | ``XDU*``                 |
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

NUAA_SIRST = 'NUAA-SIRST'
NUDT_SIRST = 'NUDT-SIRST'
IRSTD_1K = 'IRSTD-1K'

#: The parts in the order the field reports them.
PARTS: Tuple[str, ...] = (NUAA_SIRST, NUDT_SIRST, IRSTD_1K)

_NUDT_STEM = re.compile(r'\d{6}')


def part_of(stem: str) -> Optional[str]:
    """Return the SIRST3 part an image belongs to, from its file stem.

    Args:
        stem: File name without folder and extension, e.g. ``'Misc_12'``, ``'000123'``,
            ``'XDU42'``.

    Returns:
        One of :data:`PARTS`, or None when the name follows none of the three patterns.
    """
    if stem.startswith('Misc_'):
        return NUAA_SIRST
    if stem.startswith('XDU'):
        return IRSTD_1K
    if _NUDT_STEM.fullmatch(stem):
        return NUDT_SIRST
    return None
