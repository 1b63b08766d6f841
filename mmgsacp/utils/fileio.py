"""Atomic file writes, so that an interrupted run never leaves a half-written checkpoint,
``last_checkpoint`` pointer or prediction file where a good one was.

Files and folders are staged under private temporary names (``tempfile`` creates them readable by
the owner only) and get, when they take their final name, the permissions a plain ``open()`` or
``os.mkdir()`` would have given them: ``0o666`` / ``0o777`` with the process umask cleared.

``AtomicLocalBackend`` is registered as MMEngine file backend ``'atomic_local'``; configs select it
with ``default_hooks.checkpoint.backend_args = dict(backend='atomic_local')``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

from mmengine.fileio import LocalBackend, register_backend


def current_umask() -> int:
    """The process umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring
    it, which is not atomic with respect to other threads creating files at that instant.
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(folder: bool = False, umask: Optional[int] = None) -> int:
    """The permissions ``open(path, 'w')`` (or ``os.mkdir`` when ``folder``) would give."""
    umask = current_umask() if umask is None else umask
    return (0o777 if folder else 0o666) & ~umask


def atomic_write_bytes(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    The file gets the permissions a plain ``open()`` would give it (``0o666`` less the umask),
    not the owner-only mode of the temporary file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), default_mode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(text: str, path: Union[str, Path], encoding: str = 'utf-8') -> None:
    """:func:`atomic_write_bytes` for text."""
    atomic_write_bytes(text.encode(encoding), path)


def replace_dir(src: Union[str, Path], dst: Union[str, Path]) -> None:
    """Move the finished folder ``src`` to ``dst``, replacing ``dst`` only at the very end.

    The previous ``dst`` (if any) is renamed aside first and deleted only after ``src`` is in
    place, so at every instant one complete folder exists at ``dst`` or its backup. ``src``
    (typically from ``tempfile.mkdtemp``, owner-only) gets the permissions ``os.mkdir`` would
    have given it (``0o777`` less the umask); what is inside it is left as written.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    os.chmod(src, default_mode(folder=True))
    backup = None
    if os.path.exists(dst):
        backup = tempfile.mkdtemp(prefix='.old_', dir=os.path.dirname(os.path.abspath(dst)))
        os.rmdir(backup)
        os.replace(dst, backup)
    os.replace(src, dst)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose writes are atomic."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_text(obj, filepath, encoding)
