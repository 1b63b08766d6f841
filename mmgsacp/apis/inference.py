"""Inference on raw infrared frames: image files, folders of images and videos, no labels.

The pieces are independent so a caller can mix them (e.g. frames from a camera):

* :func:`load_frames` turns a path into :class:`Frame` s, lazily, reading each file the way the
  test pipeline's ``LoadIRImageFromFile`` does (one grey channel, 8-bit scale); a frame that
  cannot be decoded comes back with ``image=None`` and the reason, so callers can report and
  skip it without losing their place;
* :func:`load_model` builds a segmentor from a config and checkpoint as ``tools/test.py`` does;
* :func:`run_on_frames` runs the model over frames in batches (grouped by size) and yields
  each frame's probability map at original size;
* :func:`find_detections` reduces a probability map to a mask and its 8-connected components.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..datasets.transforms.loading import LoadIRImageFromFile, bgr_to_luma
from ..evaluation.functional import label_components
from ..models.utils.ema_teacher import legacy_teacher_state
from ..utils.checkpoint import load_checkpoint_file, load_state_dict_strict

#: Extensions (lower case) read as still images; a folder input takes these files only.
IMAGE_EXTENSIONS: Tuple[str, ...] = ('.png', '.bmp', '.jpg', '.jpeg', '.tif', '.tiff')
#: Extensions (lower case) read as videos through ``cv2.VideoCapture``.
VIDEO_EXTENSIONS: Tuple[str, ...] = (
    '.avi',
    '.mp4',
    '.mov',
    '.mkv',
    '.m4v',
    '.mpg',
    '.mpeg',
    '.wmv',
    '.webm',
)

PathLike = Union[str, os.PathLike]


class Frame(NamedTuple):
    """One input frame.

    Attributes:
        name: Output stem: the file stem, or ``<video stem>_<frame index:06d>`` for a video
            frame (for a video that could not be opened at all: the video's stem).
        source: The file it came from.
        image: (H, W) float32 grey values on the 8-bit scale [0, 255], or None when the frame
            could not be decoded.
        error: Why ``image`` is None (None otherwise).
    """

    name: str
    source: str
    image: Optional[np.ndarray]
    error: Optional[str] = None


class Detection(NamedTuple):
    """One predicted 8-connected component.

    Attributes:
        target_id: 1-based, in raster order of the component's first pixel (the metric's
            order).
        centroid_x: Mean column of its pixels (px).
        centroid_y: Mean row of its pixels (px).
        area: Pixel count.
        peak_score: Highest probability inside it.
    """

    target_id: int
    centroid_x: float
    centroid_y: float
    area: int
    peak_score: float


# ---------------------------------------------------------------------------------------------
# Frames


def image_loader_from_config(cfg: Config) -> LoadIRImageFromFile:
    """The image loader of the config's test pipeline (same options, e.g. ``bit16``), so
    frames are read exactly as ``tools/test.py`` reads them; the default loader otherwise."""
    dataset = (cfg.get('test_dataloader', None) or {}).get('dataset', None) or {}
    while dataset.get('datasets'):  # ConcatDataset and friends: the first member's pipeline
        dataset = dataset['datasets'][0]
    pipeline = dataset.get('pipeline', None) or cfg.get('test_pipeline', None)
    for step in pipeline or []:
        if step.get('type') in ('LoadIRImageFromFile', LoadIRImageFromFile):
            kwargs = {k: v for k, v in step.items() if k != 'type'}
            return LoadIRImageFromFile(**kwargs)
    return LoadIRImageFromFile()


def read_ir_frame(path: PathLike, loader: Optional[LoadIRImageFromFile] = None) -> np.ndarray:
    """Read an image file as one grey channel on the 8-bit scale.

    Args:
        path: Image file (L, grey+alpha, RGB(A), palette or 16-bit).
        loader: The loader whose options to use (default ``LoadIRImageFromFile()``).

    Returns:
        (H, W) float32 in [0, 255].

    Raises:
        OSError: When the file cannot be decoded; ValueError: unsupported depth or channels.
    """
    loader = loader or LoadIRImageFromFile()
    return loader.transform(dict(img_path=os.fspath(path)))['img'][..., 0]


def gray_from_video_frame(frame: np.ndarray) -> np.ndarray:
    """A decoded video frame (BGR, or grey) as (H, W) float32 grey on the 8-bit scale, with
    the same ITU-R 601 luma as still images."""
    if frame.ndim == 3 and frame.shape[2] >= 3:
        frame = bgr_to_luma(frame)
    elif frame.ndim == 3:
        frame = frame[..., 0]
    return frame.astype(np.float32)


def list_images(folder: PathLike) -> List[Path]:
    """The image files of a folder (by :data:`IMAGE_EXTENSIONS`), sorted by name.

    Raises:
        ValueError: When two files share a stem (their outputs would collide).
    """
    files = sorted(
        p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    seen: Dict[str, Path] = {}
    clashes = []
    for p in files:
        if p.stem in seen:
            clashes.append(f'{seen[p.stem].name} / {p.name}')
        seen.setdefault(p.stem, p)
    if clashes:
        raise ValueError(
            f'files in {folder} share a stem, so their outputs would collide: ' + ', '.join(clashes)
        )
    return files


def input_kind(path: PathLike) -> str:
    """``'folder'``, ``'image'`` or ``'video'``, from the path and its extension.

    Raises:
        FileNotFoundError: The path does not exist; ValueError: unknown extension.
    """
    path = Path(path)
    if path.is_dir():
        return 'folder'
    if not path.is_file():
        raise FileNotFoundError(f'input {path} does not exist')
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return 'image'
    if suffix in VIDEO_EXTENSIONS:
        return 'video'
    raise ValueError(
        f'input {path}: unknown extension {suffix!r}; expected a folder, an image '
        f'({", ".join(IMAGE_EXTENSIONS)}) or a video ({", ".join(VIDEO_EXTENSIONS)})'
    )


def count_frames(path: PathLike) -> Optional[int]:
    """How many frames :func:`load_frames` will yield, when known without decoding (a video
    container's frame count is only an estimate; None when it has none)."""
    kind = input_kind(path)
    if kind == 'folder':
        return len(list_images(path))
    if kind == 'image':
        return 1
    cap = cv2.VideoCapture(os.fspath(path))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    return n if n > 0 else None


def _video_frames(path: Path) -> Iterator[Frame]:
    cap = cv2.VideoCapture(os.fspath(path))
    try:
        if not cap.isOpened():
            yield Frame(path.stem, os.fspath(path), None, 'cannot open video')
            return
        expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            yield Frame(f'{path.stem}_{index:06d}', os.fspath(path), gray_from_video_frame(frame))
            index += 1
        if index == 0:
            yield Frame(path.stem, os.fspath(path), None, 'no decodable frame in video')
        elif 0 < expected and index < expected:
            # A container's count can be an estimate, so a shortfall is a warning, not a frame
            # error: there is no frame index that could be reported as skipped.
            warnings.warn(
                f'{path}: decoding stopped after {index} of the {expected} frames '
                'the container announces'
            )
    finally:
        cap.release()


def load_frames(path: PathLike, loader: Optional[LoadIRImageFromFile] = None) -> Iterator[Frame]:
    """Frames of an image file, a folder of images (sorted by name) or a video, lazily.

    Args:
        path: Image file, folder or video (see :func:`input_kind`).
        loader: Loader options for still images (see :func:`image_loader_from_config`).

    Yields:
        :class:`Frame` s in order; undecodable ones with ``image=None`` and ``error`` set.
    """
    path = Path(path)
    kind = input_kind(path)
    if kind == 'video':
        yield from _video_frames(path)
        return
    files = list_images(path) if kind == 'folder' else [path]
    for file in files:
        try:
            yield Frame(file.stem, os.fspath(file), read_ir_frame(file, loader))
        except (OSError, ValueError, cv2.error) as err:
            yield Frame(file.stem, os.fspath(file), None, str(err))


# ---------------------------------------------------------------------------------------------
# Model


def resolve_device(device: str = 'auto') -> str:
    """``'auto'`` -> ``'cuda'`` when a GPU is visible, else ``'cpu'``; explicit devices are
    checked.

    Raises:
        RuntimeError: CUDA asked for but unavailable.
    """
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError(f'device {device!r} requested but CUDA is not available')
    return device


def hook_configs(cfg: Config) -> List[dict]:
    """The hook configs the runner would build: ``default_hooks`` values (a None entry
    disables that hook) followed by ``custom_hooks``."""
    defaults = cfg.get('default_hooks', None) or {}
    hooks = [h for h in defaults.values() if h is not None]
    return hooks + list(cfg.get('custom_hooks', None) or [])


def _use_teacher_for_test(cfg: Config, checkpoint: dict, model: torch.nn.Module) -> None:
    """Put the EMA teacher's weights into the student's modules when the config tests with it.

    ``EMATeacherHook(validate_with_teacher=True)`` makes ``tools/test.py`` evaluate the
    teacher's weights; without this, inference here would silently use the student's. The
    teacher comes from the state dict (``teacher.*``) or, in checkpoints that kept it apart,
    from the top-level ``'ema_teacher'`` entry.
    """
    if not any(
        h.get('type') == 'EMATeacherHook' and h.get('validate_with_teacher', False)
        for h in hook_configs(cfg)
    ):
        return
    teacher = getattr(model, 'teacher', None)
    if teacher is None:
        warnings.warn(
            'the config tests with the EMA teacher but its model has none '
            '(model.teacher); using the student weights, as tools/test.py does'
        )
        return
    legacy = legacy_teacher_state(checkpoint)
    if legacy:
        teacher.load_state_dict({k[len('teacher.') :]: v for k, v in legacy.items()}, strict=False)
    teacher.swap_with(model)


def load_model(
    config: Union[PathLike, Config], checkpoint: PathLike, device: str = 'auto'
) -> torch.nn.Module:
    """Build the config's segmentor and load a checkpoint, in eval mode.

    Built as ``tools/test.py`` builds it: the config's model, the checkpoint read with the
    weights-only unpickler and loaded strictly (training-only keys aside, see
    :func:`mmgsacp.utils.checkpoint.state_dict_for_model`), with the EMA teacher's weights when
    the config tests with the teacher.

    Args:
        config: Config file or object.
        checkpoint: Checkpoint file.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'``.

    Returns:
        The segmentor; ``model.cfg`` holds the config.

    Raises:
        FileNotFoundError: No checkpoint file.
        mmgsacp.utils.checkpoint.CheckpointError: The file is unsafe to unpickle, unreadable,
            or its weights do not fit the model (the message names the file and the keys).
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(os.fspath(config))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    filename = os.fspath(checkpoint)
    ckpt = load_checkpoint_file(filename, map_location='cpu')
    load_state_dict_strict(model, ckpt, filename)
    _use_teacher_for_test(cfg, ckpt, model)
    model.cfg = cfg
    model.to(resolve_device(device))
    model.eval()
    return model


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, images: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Target probabilities of a batch of frames, each at its original size.

    Frames are grouped by size (one forward pass per size); the model's data preprocessor
    normalises, pads to its stride and crops back, as in ``tools/test.py``.

    Args:
        model: Segmentor with a one-channel (sigmoid) head, from :func:`load_model`.
        images: (H_i, W_i) grey frames on the 8-bit scale.

    Returns:
        (H_i, W_i) float32 probabilities, in input order.
    """
    out: List[Optional[np.ndarray]] = [None] * len(images)
    groups: Dict[Tuple[int, int], List[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault(tuple(img.shape[:2]), []).append(i)
    for (h, w), idx in groups.items():
        inputs = [torch.from_numpy(np.ascontiguousarray(images[i], np.float32))[None] for i in idx]
        samples = [SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w))) for _ in idx]
        results = model.test_step(dict(inputs=inputs, data_samples=samples))
        for i, res in zip(idx, results):
            logits = res.seg_logits.data
            if logits.shape[0] != 1:
                raise ValueError(
                    f'expected a one-channel (sigmoid) head, got {logits.shape[0]} output channels'
                )
            out[i] = logits[0].float().cpu().numpy()
    return out  # type: ignore[return-value]


def run_on_frames(
    model: torch.nn.Module, frames: Iterable[Frame], batch_size: int = 1
) -> Iterator[Tuple[Frame, Optional[np.ndarray]]]:
    """Run the model over frames, ``batch_size`` decoded frames per forward pass.

    Args:
        model: Segmentor from :func:`load_model`.
        frames: Frames, e.g. from :func:`load_frames`.
        batch_size: Decoded frames per batch (of mixed sizes, split by size).

    Yields:
        ``(frame, probability)`` in input order: (H, W) float32 probabilities, or None for a
        frame that was not decoded.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    pending: List[Frame] = []

    def flush() -> Iterator[Tuple[Frame, Optional[np.ndarray]]]:
        decoded = [f for f in pending if f.image is not None]
        probs = iter(predict_probabilities(model, [f.image for f in decoded]))
        for f in pending:
            yield f, (next(probs) if f.image is not None else None)
        pending.clear()

    n_decoded = 0
    for frame in frames:
        pending.append(frame)
        n_decoded += frame.image is not None
        if n_decoded == batch_size:
            yield from flush()
            n_decoded = 0
    if pending:
        yield from flush()


# ---------------------------------------------------------------------------------------------
# Detections


def find_detections(prob: np.ndarray, threshold: float = 0.5) -> Tuple[np.ndarray, List[Detection]]:
    """Binarise a probability map and describe each predicted component.

    Args:
        prob: (H, W) probabilities (float32 as the model gives them: ``prob > 0.5`` then equals
            the model's own ``pred_sem_seg``).
        threshold: Target where probability > threshold.

    Returns:
        ``(mask, detections)``: (H, W) bool mask and one :class:`Detection` per 8-connected
        component, in raster order.
    """
    mask = prob > threshold
    comps = label_components(mask)
    if comps.num == 0:
        return mask, []
    fg = comps.labels > 0
    peaks = np.full(comps.num, -np.inf)
    np.maximum.at(peaks, comps.labels[fg] - 1, prob[fg].astype(np.float64))
    centroids = comps.centroids  # (N, 2) row, col
    dets = [
        Detection(
            k + 1,
            float(centroids[k, 1]),
            float(centroids[k, 0]),
            int(comps.areas[k]),
            float(peaks[k]),
        )
        for k in range(comps.num)
    ]
    return mask, dets
