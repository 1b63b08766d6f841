"""Input checks and small writers shared by the command-line tools and the code behind them.

Every problem a user must fix (a missing file, an empty split, a folder that would be
overwritten, a ``--cfg-options`` key the config does not have) is raised as :class:`InputError`
with a message that names the file, key or option. The tools run their work through
:func:`run_tool`, which prints such errors (and refused checkpoints,
:class:`~mmgsacp.utils.checkpoint.CheckpointError`) as one ``error: <message>`` line and ends
with exit status :data:`USER_ERROR` (2), the status argparse uses for a bad command line. Any
other exception is a fault of the program and keeps its traceback.

JSON is written strictly (:func:`write_json`): a NaN or infinite number, e.g. a rate over an
empty set, is written as ``null``, and nothing else a strict JSON reader would refuse can slip
into a file.
"""

from __future__ import annotations

import difflib
import json
import math
import os.path as osp
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

from .fileio import atomic_write_text

#: Exit status of a tool for a problem the user must fix (argparse's status for usage errors).
USER_ERROR = 2

#: How many missing names an error message lists before it says "and N more".
MAX_LISTED = 20


class InputError(Exception):
    """A usage or data problem the user must fix; reported without a traceback."""


def report_error(err: Exception, status: int = USER_ERROR) -> int:
    """Print ``error: <err>`` on stderr and return the exit status a tool should end with."""
    print(f'error: {err}', file=sys.stderr)
    return status


def run_tool(
    fn: Callable[..., Any],
    *args: Any,
    exit: bool = False,
    also: Tuple[Type[BaseException], ...] = (),
) -> Any:
    """Run a tool's work, turning the problems a user must fix into one line and status 2.

    Args:
        fn: The tool's work, called as ``fn(*args)`` (after its arguments were parsed).
        *args: Passed to ``fn``.
        exit: Raise ``SystemExit(2)`` on a user error instead of returning 2 (for tools whose
            ``main`` returns results rather than an exit status).
        also: Further exception types that mean a user error for this tool (e.g.
            ``FileExistsError`` where the library refuses to overwrite a folder).

    Returns:
        What ``fn`` returns, or :data:`USER_ERROR` after printing ``error: <message>``.
    """
    from .checkpoint import CheckpointError  # the package is loaded by now; torch with it

    try:
        return fn(*args)
    except (InputError, CheckpointError) + tuple(also) as err:
        status = report_error(err, USER_ERROR)
    if exit:
        raise SystemExit(status)
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
        raise InputError(
            f'{flag} {out_dir} exists and is not empty; pass --overwrite to replace it'
        )


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN / infinity replaced by None and NumPy / torch scalars and arrays
    turned into Python numbers and lists, ready for strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, 'tolist'):  # NumPy / torch scalars and arrays
        return json_safe(obj.tolist())
    if hasattr(obj, '_asdict'):  # named tuples
        return json_safe(obj._asdict())
    return obj  # anything else: json.dumps raises naming its type


def dumps_json(obj: Any) -> str:
    """Indented strict JSON for ``obj`` (see :func:`json_safe`).

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent.
    """
    return json.dumps(json_safe(obj), indent=2, allow_nan=False)


def write_json(obj: Any, path: Union[str, Path], final_newline: bool = True) -> None:
    """Write ``obj`` as indented strict JSON so that ``path`` never holds a half-written file.

    NaN and infinite numbers (an undefined rate, e.g. Pd of a set without targets) are written
    as ``null``; the file always parses with a strict reader (``json.loads(...,
    parse_constant=...)`` never sees ``NaN``).
    """
    atomic_write_text(dumps_json(obj) + ('\n' if final_newline else ''), path)


# ---------------------------------------------------------------------------------------------
# Configs and --cfg-options

#: Top-level config keys MMEngine's Runner reads whether or not a config sets them, so
#: ``--cfg-options`` may add them.
RUNNER_KEYS = frozenset(
    (
        'work_dir',
        'load_from',
        'resume',
        'launcher',
        'randomness',
        'env_cfg',
        'log_processor',
        'log_level',
        'visualizer',
        'default_scope',
        'default_hooks',
        'custom_hooks',
        'experiment_name',
        'cfg',
        'auto_scale_lr',
        'compile',
        'data_preprocessor',
        'optim_wrapper',
        'param_scheduler',
        'train_cfg',
        'val_cfg',
        'test_cfg',
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'val_evaluator',
        'test_evaluator',
        'model',
    )
)


def parse_cfg_options(items: Optional[Sequence[str]]) -> Dict[str, Any]:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}``, values read by MMEngine's
    ``DictAction`` rules (numbers, None, True/False, lists ``[a,b]``, tuples ``(a,b)``).

    The tools take ``--cfg-options`` as plain strings (``nargs='+'``) so that argument parsing
    needs no MMEngine import; this reads them once the work starts.

    Raises:
        InputError: An item without ``KEY=`` or with an unreadable value.
    """
    from mmengine.config import DictAction

    options: Dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise InputError(f'--cfg-options expects KEY=VALUE pairs, got {item!r}')
        try:
            options[key.strip()] = DictAction._parse_iterable(value)
        except Exception as err:  # noqa: BLE001  (MMEngine raises plain errors on bad brackets)
            raise InputError(f'--cfg-options {item!r}: cannot read the value ({err})') from err
    return options


def check_cfg_option_keys(cfg: Any, options: Dict[str, Any]) -> None:
    """Refuse ``--cfg-options`` keys that surely do not fit the config.

    A key whose first part is neither in the config nor a key the Runner reads (a typo such as
    ``train_cfg.max_iter`` is allowed when ``train_cfg`` exists: nested keys may legitimately be
    new, e.g. a module argument left at its default), and a key that runs through a value that
    is not a dict or list (``train_cfg.max_iters.x``), are errors naming the key and, where one
    is close, the existing key meant.

    Raises:
        InputError: Naming the option.
    """
    for key in options:
        parts = key.split('.')
        node = cfg
        for depth, part in enumerate(parts):
            where = '.'.join(parts[:depth]) or 'the config'
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    raise InputError(
                        f'--cfg-options {key}: {where} is a list of {len(node)} '
                        f'items, {part!r} is not one of its indices'
                    )
                node = node[int(part)]
                continue
            if not hasattr(node, 'keys'):
                raise InputError(
                    f'--cfg-options {key}: {where} is {node!r}, not a dict, so '
                    f'it has no key {part!r}'
                )
            if part not in node:
                if depth == 0 and part not in RUNNER_KEYS:
                    close = difflib.get_close_matches(part, [str(k) for k in node.keys()], n=3)
                    hint = f' (did you mean {" or ".join(close)}?)' if close else ''
                    raise InputError(f'--cfg-options {key}: the config has no key {part!r}{hint}')
                break
            node = node[part]


def load_config(
    path: Union[str, Path], cfg_options: Optional[Sequence[str]] = None, what: str = 'config'
) -> Any:
    """Read a config file and apply ``--cfg-options`` items, as the tools do.

    Args:
        path: The config file.
        cfg_options: ``KEY=VALUE`` strings (:class:`CfgOptionsAction`), or an already parsed
            dict.
        what: How messages name the file.

    Returns:
        mmengine.Config: The config with the overrides merged.

    Raises:
        InputError: The file is missing or cannot be read (syntax error, missing ``_base_``),
            or an override is unreadable or names a key the config cannot have.
    """
    from mmengine.config import Config

    path = str(path)
    if not osp.isfile(path):
        raise InputError(f'{what} file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except (SyntaxError, FileNotFoundError, KeyError, NameError, ImportError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f'cannot read {what} {path}: {type(err).__name__}: {first}') from err
    options = dict(cfg_options) if isinstance(cfg_options, dict) else parse_cfg_options(cfg_options)
    if options:
        check_cfg_option_keys(cfg, options)
        try:
            cfg.merge_from_dict(options)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as err:
            raise InputError(f'--cfg-options: cannot apply {sorted(options)}: {err}') from err
    return cfg


# ---------------------------------------------------------------------------------------------
# Data roots


def _datasets(ds: Any, key: str) -> Iterator[Tuple[str, Any]]:
    """``(config key, dataset dict)`` of every leaf dataset under a (wrapped) dataset cfg."""
    if not hasattr(ds, 'get'):
        return
    if ds.get('datasets') is not None:  # ConcatDataset
        for i, sub in enumerate(ds['datasets']):
            yield from _datasets(sub, f'{key}.datasets.{i}')
    elif ds.get('dataset') is not None:  # RepeatDataset, ClassBalancedDataset
        yield from _datasets(ds['dataset'], f'{key}.dataset')
    else:
        yield key, ds


def check_data_paths(cfg: Any, loaders: Sequence[str]) -> None:
    """Check that the data each named dataloader reads is there before anything is built.

    For every leaf dataset of ``cfg[loader].dataset`` that sets ``data_root``: the folder must
    exist and its split file (``ann_file``, relative to ``data_root`` unless absolute) must be a
    file. Loaders that are absent or None are skipped.

    Raises:
        InputError: Naming the path, the config key and how to change it.
    """
    for loader in loaders:
        cfg_loader = cfg.get(loader)
        if not cfg_loader or not hasattr(cfg_loader, 'get'):
            continue
        for key, ds in _datasets(cfg_loader.get('dataset'), f'{loader}.dataset'):
            root = ds.get('data_root')
            if not root:
                continue
            fix = (
                f'set {key}.data_root with --cfg-options, or link your copy of the data '
                '(e.g. ln -sfn /path/to/SIRST3 data/SIRST3, or `make data`)'
            )
            if not osp.isdir(root):
                where = '' if osp.isabs(root) else f', i.e. {osp.abspath(root)}'
                raise InputError(
                    f'data root {root} ({key}.data_root{where}) is not a folder: {fix}'
                )
            ann = ds.get('ann_file')
            if ann:
                split = ann if osp.isabs(ann) else osp.join(root, ann)
                if not osp.isfile(split):
                    raise InputError(
                        f'split file {split} ({key}.ann_file = {ann!r} under '
                        f'data root {root}) does not exist: change {key}.ann_file '
                        f'or {key}.data_root with --cfg-options'
                    )
