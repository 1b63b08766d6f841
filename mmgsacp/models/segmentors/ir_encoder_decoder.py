"""Encoder-decoder whose test-time inference slides windows over frames too large to run whole."""

from __future__ import annotations

from typing import Dict, Hashable, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from .cuda_graph_step import CUDAGraphTrainStep

TEST_MODES = ('whole', 'slide')
#: Windows per forward pass when ``test_cfg`` does not say (MMSeg runs one at a time).
DEFAULT_CROP_BATCH_SIZE = 1

Box = Tuple[int, int, int, int]


def slide_windows(
    size: Tuple[int, int], crop_size: Tuple[int, int], stride: Tuple[int, int]
) -> List[Box]:
    """The windows MMSeg's slide inference visits, in its order (row-major).

    Windows start every ``stride`` pixels; the last row / column is moved back so it ends at
    the image's edge, and a side shorter than the crop is taken whole. Every window therefore
    has the same size, ``(min(crop_h, H), min(crop_w, W))``, and together they cover the
    image.

    Args:
        size: ``(H, W)`` of the (padded) input.
        crop_size: ``(crop_h, crop_w)``.
        stride: ``(stride_h, stride_w)``, at most the crop size.

    Returns:
        list[tuple[int, int, int, int]]: ``(y1, y2, x1, x2)`` of each window.
    """
    (h, w), (ch, cw), (sh, sw) = size, crop_size, stride
    rows = max(h - ch + sh - 1, 0) // sh + 1
    cols = max(w - cw + sw - 1, 0) // sw + 1
    boxes = []
    for r in range(rows):
        y2 = min(r * sh + ch, h)
        y1 = max(y2 - ch, 0)
        for c in range(cols):
            x2 = min(c * sw + cw, w)
            x1 = max(x2 - cw, 0)
            boxes.append((y1, y2, x1, x2))
    return boxes


def _pair(value, name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int) and v > 0 for v in value)
    ):
        raise ValueError(f'model.test_cfg.{name} must be two positive ints (h, w), got {value!r}')
    return int(value[0]), int(value[1])


def check_test_cfg(test_cfg: Optional[dict]) -> None:
    """Raise ``ValueError`` naming the option when ``test_cfg`` cannot drive inference.

    Args:
        test_cfg (dict, optional): ``mode`` (``'whole'`` or ``'slide'``), ``crop_size`` and
            ``stride`` (needed by ``'slide'`` and by ``max_whole_pixels``),
            ``max_whole_pixels`` and ``crop_batch_size``; see :class:`IREncoderDecoder`.
    """
    cfg = test_cfg or {}
    mode = cfg.get('mode', 'whole')
    if mode not in TEST_MODES:
        raise ValueError(f'model.test_cfg.mode must be one of {TEST_MODES}, got {mode!r}')
    limit = cfg.get('max_whole_pixels', None)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(
            f'model.test_cfg.max_whole_pixels must be a positive int or None, got {limit!r}'
        )
    if mode == 'slide' or limit is not None:
        why = "mode='slide'" if mode == 'slide' else 'max_whole_pixels'
        for key in ('crop_size', 'stride'):
            if cfg.get(key, None) is None:
                raise ValueError(f'model.test_cfg.{key} is needed by {why}')
        crop, stride = _pair(cfg['crop_size'], 'crop_size'), _pair(cfg['stride'], 'stride')
        if stride[0] > crop[0] or stride[1] > crop[1]:
            # a stride beyond the crop would leave pixels no window covers
            raise ValueError(f'model.test_cfg.stride {stride} must not exceed crop_size {crop}')
    batch = cfg.get('crop_batch_size', DEFAULT_CROP_BATCH_SIZE)
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f'model.test_cfg.crop_batch_size must be a positive int, got {batch!r}')


@MODELS.register_module()
class IREncoderDecoder(EncoderDecoder):
    """:class:`EncoderDecoder` that bounds test-time memory on large frames.

    Training is the parent's. At test time ``test_cfg`` takes MMSeg's keys with MMSeg's
    meaning, plus two:

    * ``mode='whole'`` runs the (padded) input at once; ``mode='slide'`` runs windows of
      ``crop_size`` every ``stride`` pixels and averages the logits where windows overlap (the
      heads here give logits before the sigmoid, so the average is taken before it), exactly
      as MMSeg's slide inference.
    * ``max_whole_pixels=N`` (with ``mode='whole'``): an input with more than ``N`` pixels
      (``H * W`` after the data preprocessor's padding) goes through slide inference with
      ``crop_size`` and ``stride`` instead, so a frame far larger than the training images
      neither exhausts memory nor changes the results on images up to that size. None
      (default) never switches.
    * ``crop_batch_size`` (default 1): windows per forward pass, taken across the batch's
      images; it bounds the activation memory to that many windows.

    With ``cuda_graph`` set, training steps on a CUDA device are captured in CUDA graphs and
    replayed (:class:`~mmgsacp.models.segmentors.cuda_graph_step.CUDAGraphTrainStep`): the
    data preprocessor runs eagerly, then the loss, backward pass, clipping and optimizer step
    of a batch whose signature was captured run as one graph. On other devices, and for steps
    that cannot be captured, training is the parent's.

    With ``channels_last`` set, the 4-D weights (and so the activations the convolutions
    produce) are stored channels-last, the layout whose convolution kernels are fastest on
    recent GPUs and on CPUs with oneDNN. Results are the same up to float rounding; state
    dicts load into either layout.

    With ``compile`` set, training steps run the backbone through ``torch.compile`` (fused
    kernels in place of its many small BatchNorm and activation kernels). The compiled module is
    built at the first training forward pass and kept outside the module tree, so state dicts,
    checkpoints and the EMA teacher's copy are the plain network's; evaluation runs the plain
    backbone (whole images of every size would each compile anew).

    Args:
        cuda_graph (bool | dict, optional): ``True`` or the arguments of
            :class:`CUDAGraphTrainStep` (``warmup``, ``max_graphs``); None / False: eager.
        channels_last (bool): Store the network channels-last. Defaults to False.
        compile (bool | dict, optional): ``True`` or the keyword arguments of
            ``torch.compile`` (e.g. ``dict(mode='max-autotune-no-cudagraphs')``) for the
            backbone in training; None / False: eager.
        **kwargs: :class:`EncoderDecoder` arguments.
    """

    #: Data-sample fields that the graph does not copy per step: unread by the loss, or
    #: reaching it through :meth:`graph_extras` in a shape that recurs. Points vary in number
    #: from sample to sample (they would make every batch a new signature); full supervision
    #: reads the masks only.
    graph_skip_fields: Tuple[str, ...] = ('gt_points',)

    def __init__(
        self,
        cuda_graph: Union[bool, dict, None] = None,
        channels_last: bool = False,
        compile: Union[bool, dict, None] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_test_cfg(self.test_cfg)
        if compile is not None and not isinstance(compile, (bool, dict)):
            raise TypeError(f'model.compile must be a bool or a dict, got {compile!r}')
        self.compile_cfg: Optional[dict] = (
            None if not compile else dict(compile) if isinstance(compile, dict) else {}
        )
        if channels_last:
            # Before subclasses copy the network (the EMA teacher), so copies share the layout;
            # moving to a device later keeps it.
            self.to(memory_format=torch.channels_last)
        self.graph_step: Optional[CUDAGraphTrainStep] = None
        if cuda_graph:
            self.graph_step = CUDAGraphTrainStep(
                **(cuda_graph if isinstance(cuda_graph, dict) else {})
            )

    # ------------------------------------------------------------------ training
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone (and neck) features; in training with ``compile``, the compiled backbone."""
        x = self._backbone_in_use()(inputs)
        if self.with_neck:
            x = self.neck(x)
        return x

    def _backbone_in_use(self) -> torch.nn.Module:
        if self.compile_cfg is None or not self.training:
            return self.backbone
        compiled = self.__dict__.get('_compiled_backbone')
        if compiled is None:
            compiled = torch.compile(self.backbone, **self.compile_cfg)
            # Outside the module tree (object.__setattr__ skips nn.Module's registration):
            # registered, it would add '_orig_mod' keys to every state dict.
            object.__setattr__(self, '_compiled_backbone', compiled)
        return compiled

    def train_step(self, data, optim_wrapper) -> Dict[str, Tensor]:
        """MMEngine's training step, or with ``cuda_graph`` its CUDA-graph form."""
        if self.graph_step is None:
            return super().train_step(data, optim_wrapper)
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
        return self.graph_step.step(self, data, optim_wrapper)

    def graph_extras(self, data_samples) -> Dict[str, Tensor]:
        """Tensors built from the data samples outside the graph and handed to :meth:`loss`
        as keyword arguments (none here)."""
        return {}

    def graph_state_key(self) -> Optional[Hashable]:
        """The Python state this step's code depends on (the submodules' ``graph_key()``),
        or None when the step must run eagerly."""
        return tuple(m.graph_key() for m in self._graph_modules('graph_key'))

    def graph_replayed(self) -> None:
        """Host bookkeeping of a replayed step (the submodules' ``graph_replayed()``)."""
        for m in self._graph_modules('graph_replayed'):
            m.graph_replayed()

    def _graph_modules(self, method: str) -> List[torch.nn.Module]:
        """Submodules with ``method``, outside those marked ``graph_ignore`` (the EMA teacher:
        its copies run none of the step's Python of their own)."""
        found, stack = [], list(self.children())
        while stack:
            m = stack.pop()
            if getattr(m, 'graph_ignore', False):
                continue
            if hasattr(m, method):
                found.append(m)
            stack.extend(m.children())
        return found

    def inference_mode(self, size: Tuple[int, int]) -> str:
        """``'whole'`` or ``'slide'``: how an input of ``size = (H, W)`` (padded) is run."""
        cfg = self.test_cfg or {}
        mode = cfg.get('mode', 'whole')
        limit = cfg.get('max_whole_pixels', None)
        if mode == 'whole' and limit is not None and size[0] * size[1] > limit:
            return 'slide'
        return mode

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits of a batch, whole or by sliding windows (see :meth:`inference_mode`).

        Args:
            inputs (Tensor): (B, C, H, W) preprocessed (padded) images.
            batch_img_metas (list[dict]): Their metainfo.

        Returns:
            Tensor: (B, out_channels, H, W) logits.
        """
        # test_cfg may be edited after construction (e.g. --cfg-options on a built model)
        check_test_cfg(self.test_cfg)
        if self.inference_mode(tuple(inputs.shape[-2:])) == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.whole_inference(inputs, batch_img_metas)

    def slide_inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """MMSeg's sliding-window inference, ``crop_batch_size`` windows per forward pass.

        The windows are those of :func:`slide_windows`; each pixel's logit is the mean of the
        logits the windows covering it give it. Only the (B, C, H, W) sum and one (H, W) count
        are kept at full size.

        Args:
            inputs (Tensor): (B, C, H, W) preprocessed (padded) images.
            batch_img_metas (list[dict]): Their metainfo (not modified).

        Returns:
            Tensor: (B, out_channels, H, W) logits.
        """
        cfg = self.test_cfg
        crop, stride = _pair(cfg['crop_size'], 'crop_size'), _pair(cfg['stride'], 'stride')
        per_pass = cfg.get('crop_batch_size', DEFAULT_CROP_BATCH_SIZE)
        b, _, h, w = inputs.shape
        boxes = slide_windows((h, w), crop, stride)
        logits = inputs.new_zeros((b, self.out_channels, h, w))
        count = inputs.new_zeros((1, 1, h, w))
        for y1, y2, x1, x2 in boxes:
            count[..., y1:y2, x1:x2] += 1
        # (image, window) jobs in MMSeg's order; all windows share one size, so they stack
        jobs = [(i, box) for box in boxes for i in range(b)]
        for start in range(0, len(jobs), per_pass):
            chunk = jobs[start : start + per_pass]
            crops = torch.stack([inputs[i, :, y1:y2, x1:x2] for i, (y1, y2, x1, x2) in chunk])
            # a torch.Size img_shape tells the head to resize its output to the crop
            metas = [dict(batch_img_metas[i], img_shape=crops.shape[2:]) for i, _ in chunk]
            out = self.encode_decode(crops, metas)
            for k, (i, (y1, y2, x1, x2)) in enumerate(chunk):
                logits[i, :, y1:y2, x1:x2] += out[k]
        return logits.div_(count)
