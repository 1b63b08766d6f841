from .fileio import AtomicLocalBackend, atomic_write_bytes, atomic_write_text, replace_dir
from .io import InputError, check_out_dir, listed, read_stems, report_error, write_json

__all__ = [
    'AtomicLocalBackend',
    'atomic_write_bytes', 'atomic_write_text', 'replace_dir',
    'InputError', 'check_out_dir', 'listed', 'read_stems', 'report_error', 'write_json'
]
