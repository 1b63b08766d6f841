"""mmgsacp: GSACP for MMSegmentation 1.x.

Importing the package registers every component in MMSeg's registries (configs load it with
``custom_imports = dict(imports=['mmgsacp'])``) and makes MMEngine read local checkpoints with
the weights-only unpickler (:mod:`mmgsacp.utils.checkpoint`).

MMSeg and mmcv are imported here first, with two import-time notices they print on every run
silenced: the fork's "Could not import OneDL" (the optional OneDL data platform is absent) and
mmcv-lite's "Fail to import ``MultiScaleDeformableAttention``" (a compiled op mmgsacp does not
use). Only these exact messages are dropped; any other output or warning goes through.
"""

__version__ = '0.1.0'

import contextlib  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

#: stdout lines the MMSeg fork prints while importing when the optional OneDL package is absent.
_QUIET_LINES = frozenset({'Could not import OneDL'})
#: Warnings mmcv-lite gives while importing (ops it ships without; mmgsacp uses none of them).
_QUIET_WARNINGS = (r'Fail to import ``MultiScaleDeformableAttention``',)


class _LineFilter(io.TextIOBase):
    """A text stream that forwards whole lines to ``target`` except those in ``drop``."""

    def __init__(self, target, drop) -> None:
        self._target, self._drop, self._pending = target, drop, ''

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split('\n')
        for line in lines:
            if line.strip() not in self._drop:
                self._target.write(line + '\n')
        return len(text)

    def flush(self) -> None:
        if self._pending:
            if self._pending.strip() not in self._drop:
                self._target.write(self._pending)
            self._pending = ''
        self._target.flush()


def _import_third_party_quietly() -> None:
    """Import mmcv and MMSeg, dropping their import-time notices named above, nothing else."""
    out = _LineFilter(sys.stdout, _QUIET_LINES)
    with warnings.catch_warnings():
        for message in _QUIET_WARNINGS:
            warnings.filterwarnings('ignore', message=message, category=UserWarning)
        try:
            with contextlib.redirect_stdout(out):
                import mmcv.cnn  # noqa: F401
                import mmseg.datasets  # noqa: F401
                import mmseg.models  # noqa: F401
        finally:
            out.flush()


_import_third_party_quietly()

from . import datasets, engine, evaluation, models, utils  # noqa: E402,F401  (registration)
