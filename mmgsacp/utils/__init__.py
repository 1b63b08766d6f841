from .checkpoint import checkpoint_safe_globals, register_checkpoint_safe_globals
from .fileio import AtomicLocalBackend, atomic_write_bytes, atomic_write_text, replace_dir

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals', 'AtomicLocalBackend',
    'atomic_write_bytes', 'atomic_write_text', 'replace_dir'
]
