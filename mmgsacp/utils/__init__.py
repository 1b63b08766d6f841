from .checkpoint import (CheckpointError, CheckpointMismatchError, UnsafeCheckpointError,
                         allow_unsafe_checkpoints, load_checkpoint_file, load_state_dict_strict,
                         state_dict_for_model)
from .fileio import AtomicLocalBackend, atomic_write_bytes, atomic_write_text, replace_dir

__all__ = [
    'AtomicLocalBackend', 'CheckpointError', 'CheckpointMismatchError', 'UnsafeCheckpointError',
    'allow_unsafe_checkpoints', 'atomic_write_bytes', 'atomic_write_text',
    'load_checkpoint_file', 'load_state_dict_strict', 'replace_dir', 'state_dict_for_model'
]
