"""Checkpoint saving that never leaves a run without a loadable checkpoint."""

from __future__ import annotations

import logging
import os
import os.path as osp
import re
from collections import deque
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ...utils.checkpoint import CheckpointError, CheckpointSaveError, is_complete_checkpoint
from ...utils.fileio import atomic_write_text

#: Name prefix of the temporary files :func:`mmgsacp.utils.fileio.atomic_write_bytes` writes
#: before renaming them into place; one left behind is the remains of an interrupted save.
TMP_PREFIX = '.tmp_'
POINTER = 'last_checkpoint'


def checkpoint_steps(folder: str, filename_tmpl: str) -> List[tuple]:
    """``(step, path)`` of the files in ``folder`` named by ``filename_tmpl``, by step."""
    pattern = re.compile('^' + re.escape(filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
    found = []
    if osp.isdir(folder):
        for name in os.listdir(folder):
            m = pattern.match(name)
            if m:
                found.append((int(m.group(1)), osp.join(folder, name)))
    return sorted(found)


def find_resume_checkpoint(
    work_dir: str, ckpt_dir: str, filename_tmpl: str = 'iter_{}.pth'
) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) should continue from.

    The file the ``last_checkpoint`` pointer names, when it is a complete checkpoint. When the
    pointer is missing, empty or names a missing, empty or truncated file, the newest complete
    ``filename_tmpl`` checkpoint in ``ckpt_dir`` is used instead, with a warning.

    Args:
        work_dir: Folder holding the ``last_checkpoint`` pointer.
        ckpt_dir: Folder holding the checkpoints.
        filename_tmpl: Checkpoint name with ``{}`` for the step.

    Returns:
        A checkpoint path, or None when there is neither a pointer nor any checkpoint (a fresh
        run).

    Raises:
        CheckpointError: The pointer is broken and no complete checkpoint is left.
    """
    pointer = osp.join(work_dir, POINTER)
    named = open(pointer).read().strip() if osp.isfile(pointer) else None
    if named and is_complete_checkpoint(named):
        return named
    candidates = [p for _, p in checkpoint_steps(ckpt_dir, filename_tmpl)]
    newest = next((p for p in reversed(candidates) if is_complete_checkpoint(p)), None)
    if named is None:
        why = f'there is no {pointer}'
    elif not named:
        why = f'{pointer} is empty'
    elif not osp.isfile(named):
        why = f'{pointer} names {named}, which does not exist'
    else:
        why = f'{pointer} names {named}, which is empty or truncated'
    if newest is not None:
        print_log(
            f'{why}; resuming from the newest complete checkpoint {newest}',
            logger='current',
            level=logging.WARNING,
        )
        return newest
    if named is None:
        return None
    raise CheckpointError(
        f'cannot resume: {why}, and {ckpt_dir} holds no complete '
        f'{filename_tmpl.format("*")} checkpoint'
    )


class _DeferredRemovals:
    """A file backend whose ``remove``/``rmtree`` only record the path, so that an old
    checkpoint is deleted after its replacement is complete, not before."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.paths: List[str] = []

    def remove(self, path) -> None:
        self.paths.append(path)

    def rmtree(self, path) -> None:
        self.paths.append(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook``, with every step of a save safe to interrupt.

    MMEngine writes the ``last_checkpoint`` pointer in place (a crash can leave it empty, which
    breaks ``--resume``) and deletes the checkpoint that falls out of ``max_keep_ckpts`` (and
    the previous best one) before the new one is written. Here:

    * checkpoints are written to a temporary file in the same folder, fsynced and renamed into
      place (``backend_args=dict(backend='atomic_local')`` unless another backend is given);
    * the pointer is replaced the same way, after the checkpoint is complete;
    * old checkpoints are deleted only after the new one and the pointer are in place;
    * a save that fails (e.g. ``OSError`` for a full disk) leaves the previous checkpoint and
      the pointer as they were, logs so, and stops training with :class:`CheckpointSaveError`;
    * temporaries left by an interrupted save are removed when training starts;
    * ``resume=True`` without a path follows the pointer only to a complete checkpoint, else
      the newest complete one (see :func:`find_resume_checkpoint`).

    Takes the same arguments as ``CheckpointHook``.
    """

    def __init__(self, *args, backend_args: Optional[dict] = None, **kwargs) -> None:
        out_dir = kwargs.get('out_dir')
        if (
            backend_args is None
            and kwargs.get('file_client_args') is None
            and (out_dir is None or '://' not in str(out_dir))
        ):
            backend_args = dict(backend='atomic_local')
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def _checkpoint_dir(self, runner) -> str:
        # CheckpointHook.before_train's rule, needed earlier (before_run) for resuming.
        if self.out_dir is None or self.out_dir == runner.work_dir:
            return runner.work_dir
        return osp.join(self.out_dir, osp.basename(runner.work_dir.rstrip(osp.sep)))

    def before_run(self, runner) -> None:
        # Runner.load_or_resume follows the pointer blindly (an empty one becomes the path '');
        # it runs after before_run, so the checked choice is handed to it here. Each rank
        # resolves the same files, so no rank writes anything.
        if getattr(runner, '_resume', False) and getattr(runner, '_load_from', None) is None:
            found = find_resume_checkpoint(
                runner.work_dir, self._checkpoint_dir(runner), self.filename_tmpl
            )
            if found is not None:
                runner._load_from = found

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process():
            return
        for folder in {self.out_dir, runner.work_dir}:
            if not osp.isdir(folder):
                continue
            stale = sorted(
                n
                for n in os.listdir(folder)
                if n.startswith(TMP_PREFIX) and osp.isfile(osp.join(folder, n))
            )
            for name in stale:
                os.remove(osp.join(folder, name))
            if stale:
                runner.logger.warning(
                    f'removed {len(stale)} unfinished temporary file(s) an '
                    f'interrupted save left in {folder}: {", ".join(stale)}'
                )

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        hub = runner.message_hub
        before = {
            k: hub.runtime_info[k] for k in ('keep_ckpt_ids', 'last_ckpt') if k in hub.runtime_info
        }
        keep_before = list(getattr(self, 'keep_ckpt_ids', []))
        last_before = self.last_ckpt
        stale = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        # Recorded before saving: the checkpoint's own message hub names it as the last one.
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        hub.update_info('last_ckpt', self.last_ckpt)
        pointer = osp.join(runner.work_dir, POINTER)
        try:
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
            if is_main_process():
                atomic_write_text(self.last_ckpt, pointer)
        except OSError as err:
            for key in ('keep_ckpt_ids', 'last_ckpt'):
                hub.runtime_info.pop(key, None)
            for key, value in before.items():
                hub.update_info(key, value)
            if self.max_keep_ckpts > 0:
                self.keep_ckpt_ids = deque(keep_before, self.max_keep_ckpts)
            failed, self.last_ckpt = self.last_ckpt, last_before
            self._fail(runner, failed, err, pointer)
        if stale is not None and is_main_process():
            self._remove(
                self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(stale))
            )

    def _save_best_checkpoint(self, runner, metrics) -> None:
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        except OSError as err:
            self._fail(runner, 'the best checkpoint', err, osp.join(runner.work_dir, POINTER))
        finally:
            self.file_backend = backend
        keep = {
            self.last_ckpt,
            getattr(self, 'best_ckpt_path', None),
            *getattr(self, 'best_ckpt_path_dict', {}).values(),
        }
        for path in deferred.paths:
            if path not in keep:
                self._remove(path)

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)

    def _fail(self, runner, what: str, err: OSError, pointer: str) -> None:
        # What the pointer names is what --resume will load: report that, not our bookkeeping.
        last = (open(pointer).read().strip() if osp.isfile(pointer) else '') or 'none saved yet'
        msg = (
            f'could not save {what}: {err}. The last complete checkpoint ({last}) and '
            f'{pointer} are unchanged; free space (or fix the folder) and continue with '
            '--resume. Training stopped.'
        )
        runner.logger.error(msg)
        raise CheckpointSaveError(msg) from err
