"""Reading checkpoints safely and checking that their weights fit a model.

Loading: :func:`load_checkpoint_file` unpickles with ``torch.load(weights_only=True)`` and torch's
built-in allow-list only (tensors, numbers, strings, lists, tuples, dicts, ``OrderedDict``): a
file that names any other global (``os.system``, ``getattr``, a class whose ``__reduce__`` runs
code) is refused with :class:`UnsafeCheckpointError`, naming the file and the globals, before any
of it runs. Importing this module makes it MMEngine's loader for local paths, so ``load_from``,
``--resume``, ``Runner.load_checkpoint``, ``mmengine.runner.load_checkpoint`` and ``Pretrained``
initialisation all go through it. The one way around it is an explicit opt-in for files one trusts
(:func:`allow_unsafe_checkpoints`, the tools' ``--unsafe-load-checkpoint`` or the environment
variable ``MMGSACP_UNSAFE_LOAD_CHECKPOINT=1``), which warns for every file it loads that way.

Matching: :func:`state_dict_for_model` checks a checkpoint's weights against a model key by key,
for test and inference, where a partly loaded model would give silently wrong scores. Keys that
only a training-time model carries are the one exception; the rule is
:data:`TRAINING_ONLY_PREFIXES`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from pickle import UnpicklingError
from typing import Iterator, List, Mapping, Sequence

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

#: Environment variable that, set to 1/true/yes, allows full unpickling of checkpoints the
#: safe loader refuses (trusted legacy files only).
UNSAFE_ENV = 'MMGSACP_UNSAFE_LOAD_CHECKPOINT'

#: State-dict prefixes that belong to training only: the EMA teacher submodule (``teacher.``;
#: ``ema_teacher.`` for files whose writer named it so) and deep-supervision auxiliary heads. A
#: checkpoint key under one of these is dropped when the model being tested has no key under
#: that prefix; every other key must match the model exactly. (Checkpoints written before the
#: teacher joined the state dict keep it under the top-level ``'ema_teacher'`` key, which
#: ``EMATeacherHook`` maps into ``teacher.*`` on resume.) ``decode_head.embed.`` is the 1x1
#: projection the first form of the online targets measured affinity on (the teacher's copy of
#: it too): it only ever fed the targets, so a first-form checkpoint tests under the current
#: head, which has none.
TRAINING_ONLY_PREFIXES: Sequence[str] = (
    'teacher.',
    'ema_teacher.',
    'auxiliary_head.',
    'decode_head.embed.',
    'teacher.decode_head.embed.',
)

#: How many key names an error message lists per kind of mismatch.
SHOWN_KEYS = 5

_unsafe_allowed = False
_allow_list_lock = threading.Lock()


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and why."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint whose unpickling would call something other than plain-data constructors.

    Attributes:
        filename: The refused file.
        globals: The offending globals (``module.name``) the file references.
    """

    def __init__(self, filename: str, names: Sequence[str]) -> None:
        self.filename = filename
        self.globals = list(names)
        listed = ', '.join(self.globals) or 'an object that is not plain data'
        super().__init__(
            f'refusing to load checkpoint {filename}: it references {listed}, which is not '
            'plain data (tensors, numbers, strings, lists, dicts), and unpickling it could run '
            'arbitrary code. If you trust this file, pass --unsafe-load-checkpoint (or set '
            f'{UNSAFE_ENV}=1) to load it fully.'
        )


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose weights do not fit the model (another architecture, or empty)."""


class CheckpointSaveError(CheckpointError):
    """Saving a checkpoint failed; the previous checkpoint and the pointer to it are intact."""


def allow_unsafe_checkpoints(enabled: bool = True) -> None:
    """Allow (or forbid again) full unpickling of checkpoints the safe loader refuses.

    Only for files from a trusted source: full unpickling runs whatever code the file names.
    """
    global _unsafe_allowed
    _unsafe_allowed = enabled
    if enabled:
        print_log(
            'unsafe checkpoint loading is enabled: checkpoints that are not plain data '
            'will be fully unpickled, which runs any code they contain',
            logger='current',
            level=logging.WARNING,
        )


def unsafe_checkpoints_allowed() -> bool:
    """Whether :func:`allow_unsafe_checkpoints` or :data:`UNSAFE_ENV` opted in."""
    env = os.environ.get(UNSAFE_ENV, '').strip().lower() in ('1', 'true', 'yes')
    return _unsafe_allowed or env


@contextmanager
def _builtin_allow_list_only() -> Iterator[None]:
    # Globals that other code added with torch.serialization.add_safe_globals (MMEngine's own
    # list holds builtins.getattr, which gives the unpickler any attribute of any object) are
    # set aside while we load, so what loads is exactly torch's plain-data set.
    with _allow_list_lock:
        extra = torch.serialization.get_safe_globals()
        torch.serialization.clear_safe_globals()
        try:
            yield
        finally:
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(extra)


def _offending_globals(filename: str, err: Exception) -> List[str]:
    """The globals that made the weights-only unpickler refuse ``filename``."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: fall back on the name in torch's message
        names = []
    if not names:
        names = re.findall(r'GLOBAL ([\w.]+)', str(err))
    return sorted(set(names))


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with the weights-only unpickler.

    Args:
        filename: Checkpoint file (``~`` expanded).
        map_location: As for ``torch.load``.

    Returns:
        The unpickled checkpoint (normally a dict).

    Raises:
        FileNotFoundError: No such file.
        UnsafeCheckpointError: The file references something other than plain data (and
            unsafe loading was not opted into).
        CheckpointError: The file is empty, truncated or not a torch checkpoint.
    """
    filename = os.path.expanduser(os.fspath(filename))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if os.path.getsize(filename) == 0:
        raise CheckpointError(
            f'checkpoint {filename} is empty (0 bytes); an interrupted save '
            'or copy leaves such files'
        )
    try:
        with _builtin_allow_list_only():
            return torch.load(filename, map_location=map_location, weights_only=True)
    except UnpicklingError as err:
        names = _offending_globals(filename, err)
        if not unsafe_checkpoints_allowed():
            raise UnsafeCheckpointError(filename, names) from None
        print_log(
            f'loading {filename} with full unpickling (unsafe loading opted in); it '
            f'references {", ".join(names) or "non-plain objects"}',
            logger='current',
            level=logging.WARNING,
        )
        return torch.load(filename, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(
            f'checkpoint {filename} cannot be read (truncated or not a torch '
            f'checkpoint): {str(err).splitlines()[0]}'
        ) from err


def _load_from_local(filename: str, map_location=None) -> dict:
    return load_checkpoint_file(filename, map_location)


# MMEngine picks loaders by longest matching prefix; '' is its catch-all for local paths. Its
# own local loader falls back to full unpickling with only a warning, so this one replaces it.
# The function name keeps MMEngine's log line ("Loads checkpoint by local backend").
_load_from_local.__name__ = 'load_from_local'
CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)


def is_complete_checkpoint(filename: str) -> bool:
    """Whether ``filename`` is a whole torch zip checkpoint (non-empty, central directory and
    pickle present); reads the zip directory only, not the weights."""
    try:
        if os.path.getsize(filename) == 0 or not zipfile.is_zipfile(filename):
            return False
        with zipfile.ZipFile(filename) as zf:
            return any(name.endswith('data.pkl') for name in zf.namelist())
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Matching a checkpoint to a model


def _show(keys: Sequence[str]) -> str:
    keys = sorted(keys)
    shown = ', '.join(keys[:SHOWN_KEYS])
    more = f', ... ({len(keys) - SHOWN_KEYS} more)' if len(keys) > SHOWN_KEYS else ''
    return f'{len(keys)}: {shown}{more}'


def _has_prefix(keys, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in keys)


def state_dict_for_model(
    checkpoint: Mapping, model_state: Mapping[str, torch.Tensor], filename: str
) -> 'OrderedDict[str, torch.Tensor]':
    """The checkpoint's weights for a model at test time, checked key by key.

    ``module.`` prefixes (distributed wrappers) are stripped. Keys under
    :data:`TRAINING_ONLY_PREFIXES` are dropped when the model has no key under that prefix; all
    other keys must be exactly the model's, with the same shapes.

    Args:
        checkpoint: A loaded checkpoint (``{'state_dict': ...}``) or a bare state dict.
        model_state: The model's ``state_dict()`` (names and shapes are used).
        filename: The checkpoint's path, for messages.

    Returns:
        The state dict to load with ``strict=True`` (torch's ``_metadata`` kept).

    Raises:
        CheckpointMismatchError: Empty state dict, or missing / unexpected / mis-shaped keys;
            the message lists the first few of each and their counts.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatchError(
            f'checkpoint {filename} holds a {type(checkpoint).__name__}, not a dict of weights'
        )
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping) or not state:
        raise CheckpointMismatchError(
            f'checkpoint {filename} holds no weights (empty state '
            f'dict); top-level keys: {sorted(checkpoint)}'
        )
    metadata = getattr(state, '_metadata', None)
    state = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state.items())
    ignored = [
        k
        for k in state
        if any(k.startswith(p) and not _has_prefix(model_state, p) for p in TRAINING_ONLY_PREFIXES)
    ]
    for k in ignored:
        del state[k]
    missing = [k for k in model_state if k not in state]
    unexpected = [k for k in state if k not in model_state]
    shapes = [
        f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}'
        for k, v in model_state.items()
        if k in state and hasattr(state[k], 'shape') and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'missing keys {_show(missing)}')
        if unexpected:
            parts.append(f'unexpected keys {_show(unexpected)}')
        if shapes:
            parts.append(f'shape mismatches (checkpoint vs model) {_show(shapes)}')
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not fit the model (another architecture or config?): '
            + '; '.join(parts)
        )
    if ignored:
        print_log(
            f'{filename}: ignored {len(ignored)} training-only keys the test model does '
            f'not have ({", ".join(sorted({k.split(".")[0] for k in ignored}))}.*)',
            logger='current',
        )
    if metadata is not None:
        state._metadata = metadata  # type: ignore[attr-defined]
    return state


def load_state_dict_strict(model: torch.nn.Module, checkpoint: Mapping, filename: str) -> None:
    """Load a checkpoint's weights into ``model``, refusing any mismatch
    (see :func:`state_dict_for_model`)."""
    model.load_state_dict(
        state_dict_for_model(checkpoint, model.state_dict(), filename), strict=True
    )


__all__: List[str] = [
    'UNSAFE_ENV',
    'TRAINING_ONLY_PREFIXES',
    'CheckpointError',
    'UnsafeCheckpointError',
    'CheckpointMismatchError',
    'CheckpointSaveError',
    'allow_unsafe_checkpoints',
    'unsafe_checkpoints_allowed',
    'load_checkpoint_file',
    'is_complete_checkpoint',
    'state_dict_for_model',
    'load_state_dict_strict',
]
