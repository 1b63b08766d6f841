"""Matplotlib without a display, and figures written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Union

from mmgsacp.utils.fileio import atomic_write_bytes


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: it is slow to load)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Union[str, Path], dpi: int) -> None:
    """Write ``fig`` as a PNG so that ``path`` never holds a half-written image, then close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    pyplot().close(fig)
    atomic_write_bytes(buf.getvalue(), path)
