"""Export the inference network to ONNX: raw intensities in, target probabilities out."""

from __future__ import annotations

import importlib
import io
import os
import warnings
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..utils.fileio import atomic_write_bytes

#: Extra packages the export needs, and where they are listed.
DEPLOY_REQUIREMENTS = 'requirements/deploy.txt'


class ProbabilityNet(nn.Module):
    """A segmentor's inference path as one plain module: ``(1, 1, H, W)`` raw intensities
    (the image as read, float) -> ``(1, 1, H, W)`` target probabilities.

    The data preprocessor's normalisation ``(x - mean) / std`` is part of the graph, so the
    exported model takes the frame as read. ``H`` and ``W`` must be multiples of the
    preprocessor's ``size_divisor`` (32 for the configs here): pad larger frames with the mean
    intensity (0 after normalisation, as the preprocessor pads) and crop the output back.

    Args:
        segmentor: A built :class:`IREncoderDecoder` (or subclass) in eval mode.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        pre = segmentor.data_preprocessor
        self.backbone = segmentor.backbone
        self.neck = segmentor.neck if getattr(segmentor, 'with_neck', False) else None
        self.decode_head = segmentor.decode_head
        self.align_corners = bool(getattr(segmentor.decode_head, 'align_corners', False))
        self.register_buffer('mean', pre.mean.detach().clone().reshape(1, -1, 1, 1).float())
        self.register_buffer('std', pre.std.detach().clone().reshape(1, -1, 1, 1).float())
        self.size_divisor = int(getattr(pre, 'size_divisor', None) or 1)

    def forward(self, image: Tensor) -> Tensor:
        x = (image - self.mean) / self.std
        feats = self.backbone(x)
        if self.neck is not None:
            feats = self.neck(feats)
        logits = self.decode_head(feats)
        logits = F.interpolate(
            logits, size=image.shape[-2:], mode='bilinear', align_corners=self.align_corners
        )
        return torch.sigmoid(logits)


def _require(package: str, purpose: str) -> None:
    """Raise a clear error naming ``package`` and the requirements file when it is missing."""
    try:
        importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the '{package}' package, which is not installed: "
            f'pip install -r {DEPLOY_REQUIREMENTS}'
        ) from err


def require_onnx() -> None:
    """Raise a clear error when the exporter's ``onnx`` package is missing."""
    _require('onnx', 'ONNX export')


def require_onnxruntime() -> None:
    """Raise a clear error when ``onnxruntime`` is missing."""
    _require('onnxruntime', 'ONNX Runtime inference')


def onnx_available() -> bool:
    """Whether both the exporter's ``onnx`` and ``onnxruntime`` can be imported."""
    try:
        require_onnx()
        require_onnxruntime()
    except ImportError:
        return False
    return True


def onnx_bytes(
    net: nn.Module,
    shape: Tuple[int, ...],
    dynamic: bool = False,
    opset: int = 17,
    input_name: str = 'image',
    output_name: str = 'prob',
) -> bytes:
    """Trace ``net`` (eval mode, CPU, one input) into a serialised ONNX model.

    Args:
        net: The network; it takes one float tensor of ``shape`` and returns one tensor.
        shape: Full input shape, e.g. ``(1, 1, H, W)``.
        dynamic: Let dimensions 2 and 3 (``H`` and ``W``) of the input and output vary.
        opset: ONNX opset version.
        input_name: Name of the graph input.
        output_name: Name of the graph output.

    Returns:
        The ``.onnx`` file's bytes.
    """
    require_onnx()
    dummy = torch.zeros(*shape)
    axes: Optional[dict] = (
        {input_name: {2: 'height', 3: 'width'}, output_name: {2: 'height', 3: 'width'}}
        if dynamic
        else None
    )
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the torch.export one, which
        # needs the extra onnxscript package; the graphs here trace fully either way.
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(
            net.eval().cpu(),
            (dummy,),
            buffer,
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    return buffer.getvalue()


def ort_session(model: Union[bytes, str], threads: int = 2):
    """An ONNX Runtime CPU session for ``model`` (bytes or a path) on ``threads`` threads.

    Intra-op parallelism gets all ``threads`` (the graphs here are one chain of layers, so
    inter-op parallelism has nothing to run side by side); every graph optimisation is on.

    Raises:
        ImportError: ``onnxruntime`` missing (names the requirements file).
        ValueError: ``threads`` < 1.
    """
    require_onnxruntime()
    import onnxruntime as ort

    if threads < 1:
        raise ValueError(f'threads must be >= 1, got {threads}')
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no layout-optimisation notices per session
    return ort.InferenceSession(model, options, providers=['CPUExecutionProvider'])


def export_onnx(
    net: ProbabilityNet,
    out: str,
    shape: Tuple[int, int] = (256, 256),
    dynamic: bool = False,
    opset: int = 17,
) -> str:
    """Write ``net`` as an ONNX model to ``out`` (atomically: a temporary file in the same
    folder, then a rename; an existing file is replaced only by a complete one).

    Args:
        net: The network (eval mode, on CPU).
        out: ``.onnx`` path.
        shape: ``(H, W)`` of the traced input, multiples of ``net.size_divisor``.
        dynamic: Let ``H`` and ``W`` vary at run time (input ``image``, output ``prob``).
        opset: ONNX opset version.

    Returns:
        ``out``.

    Raises:
        ValueError: ``shape`` not a multiple of the size divisor.
        ImportError: ``onnx`` missing (names the requirements file).
    """
    h, w = (int(v) for v in shape)
    d = net.size_divisor
    if h < d or w < d or h % d or w % d:
        raise ValueError(
            f'--shape {h} {w}: height and width must be positive multiples of the '
            f"data preprocessor's size_divisor {d}"
        )
    data = onnx_bytes(net, (1, 1, h, w), dynamic, opset)
    atomic_write_bytes(data, os.fspath(out))
    return os.fspath(out)
