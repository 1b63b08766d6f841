"""Atomic file writes, so that an interrupted run never leaves a half-written checkpoint,
``last_checkpoint`` pointer or prediction file where a good one was.

``AtomicLocalBackend`` is registered as MMEngine file backend ``'atomic_local'``; configs select it
with ``default_hooks.checkpoint.backend_args = dict(backend='atomic_local')``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


def atomic_write_bytes(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(text: str, path: Union[str, Path], encoding: str = 'utf-8') -> None:
    atomic_write_bytes(text.encode(encoding), path)


def replace_dir(src: Union[str, Path], dst: Union[str, Path]) -> None:
    """Move the finished folder ``src`` to ``dst``, replacing ``dst`` only at the very end.

    The previous ``dst`` (if any) is renamed aside first and deleted only after ``src`` is in
    place, so at every instant one complete folder exists at ``dst`` or its backup.
    """
    src, dst = os.fspath(src), os.fspath(dst)
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
