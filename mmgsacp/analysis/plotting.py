"""Matplotlib without a display, figures written atomically, and the axes of threshold sweeps
(a metric against Fa) that the sweep plots share."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence, Union

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


def plot_against_fa(ax, points: Sequence[Any], key: str, **style) -> None:
    """Draw metric ``key`` of sweep points (``SweepPoint``s) against their Fa on ``ax``.

    Args:
        ax: A matplotlib ``Axes``.
        points: Objects with ``Fa`` and ``key`` attributes, in drawing order.
        key: The metric on the y axis, e.g. ``'mIoU'`` or ``'Pd'``.
        **style: Keywords of ``Axes.plot`` (marker, colour, label...).
    """
    ax.plot([p.Fa for p in points], [getattr(p, key) for p in points], **style)


def star_point(ax, point: Any, key: str, **style) -> None:
    """Mark one sweep point with a star (no line); ``style`` as in :func:`plot_against_fa`."""
    plot_against_fa(ax, [point], key, marker='*', linestyle='none', **style)


def label_fa_axes(ax, key: str) -> None:
    """Fa (x1e-6) on the x axis, ``key`` (%) on the y axis, a light grid."""
    ax.set_xlabel('Fa (x1e-6)')
    ax.set_ylabel(f'{key} (%)')
    ax.grid(True, alpha=0.3)
