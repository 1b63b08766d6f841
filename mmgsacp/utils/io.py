"""Input checks and small writers shared by the analysis and benchmark code behind the tools.

Every problem a user must fix (a missing file, an empty split, a folder that would be
overwritten) is raised as :class:`InputError` with a message that names the file or option;
the command-line tools print it as ``error: <message>`` and exit with a non-zero status instead
of showing a traceback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

from .fileio import atomic_write_text

#: How many missing names an error message lists before it says "and N more".
MAX_LISTED = 20


class InputError(Exception):
    """A usage or data problem the user must fix; reported without a traceback."""


def report_error(err: Exception, status: int) -> int:
    """Print ``error: <err>`` on stderr and return the exit status a tool should end with."""
    print(f'error: {err}', file=sys.stderr)
    return status


def read_stems(gt_dir: Path, split: Optional[Path]) -> List[str]:
    """The image stems to score.

    Args:
        gt_dir: Folder of ground-truth masks ``<stem>.png``.
        split: File with one stem per line, or None.

    Returns:
        The split's non-blank lines (stripped, in file order), else every PNG stem in
        ``gt_dir`` (sorted).
    """
    if split is not None:
        return [s.strip() for s in Path(split).read_text().splitlines() if s.strip()]
    return sorted(p.stem for p in Path(gt_dir).glob('*.png'))


def listed(names: Sequence[str]) -> str:
    """``a, b, c`` for the first :data:`MAX_LISTED` names, then ``(and N more)``."""
    shown = ', '.join(names[:MAX_LISTED])
    more = f' (and {len(names) - MAX_LISTED} more)' if len(names) > MAX_LISTED else ''
    return shown + more


def check_out_dir(out_dir: Path, overwrite: bool, flag: str = '--out-dir') -> None:
    """Refuse an output folder that is a file, or that holds files, unless ``overwrite``.

    Raises:
        InputError: Naming ``flag`` and the folder.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f'{flag} {out_dir} exists and is not a folder')
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(f'{flag} {out_dir} exists and is not empty; pass --overwrite to '
                         'replace it')


def write_json(obj: Any, path: Union[str, Path], final_newline: bool = False) -> None:
    """Write ``obj`` as indented JSON so that ``path`` never holds a half-written file."""
    atomic_write_text(json.dumps(obj, indent=2) + ('\n' if final_newline else ''), path)
