from .fileio import AtomicLocalBackend, atomic_write_bytes, atomic_write_text, replace_dir

__all__ = [
    'AtomicLocalBackend',
    'atomic_write_bytes', 'atomic_write_text', 'replace_dir'
]
