from .checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    allow_unsafe_checkpoints,
    load_checkpoint_file,
    load_state_dict_strict,
    state_dict_for_model,
)
from .fileio import AtomicLocalBackend, atomic_write_bytes, atomic_write_text, replace_dir
from .io import InputError, check_out_dir, listed, read_stems, report_error, write_json
from .misc import hw_pair

__all__ = [
    'AtomicLocalBackend',
    'CheckpointError',
    'CheckpointMismatchError',
    'UnsafeCheckpointError',
    'allow_unsafe_checkpoints',
    'atomic_write_bytes',
    'atomic_write_text',
    'load_checkpoint_file',
    'load_state_dict_strict',
    'replace_dir',
    'state_dict_for_model',
    'InputError',
    'check_out_dir',
    'listed',
    'read_stems',
    'report_error',
    'write_json',
    'hw_pair',
]
