"""Batched crop, flip and transpose of images held in one flat in-memory bank.

Pure tensor functions behind :class:`PackedPointDataPreProcessor`. They reproduce, for a whole
batch at once, the per-sample pipeline ``TargetAwareRandomCrop`` -> ``RandomFlipIR`` ->
``RandomTranspose`` of :mod:`mmgsacp.datasets.transforms.transforms`: the same window rule,
padding, point survival rule and pixel/point mappings. A batch is cropped by one gather from
the bank; no Python loop runs over samples or pixels.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import torch
from torch import Tensor


class BatchDraws(NamedTuple):
    """Random choices of a batch (all (B,) tensors).

    Attributes:
        y0 (Tensor): int64 window rows (top; negative places a short image inside).
        x0 (Tensor): int64 window columns (left).
        hflip (Tensor): bool, mirror x.
        vflip (Tensor): bool, mirror y.
        transpose (Tensor): bool, swap rows and columns (after the flips).
    """

    y0: Tensor
    x0: Tensor
    hflip: Tensor
    vflip: Tensor
    transpose: Tensor


def batch_point_rows(point_start: Tensor, point_count: Tensor) -> Tuple[Tensor, Tensor]:
    """Rows of a bank's point table that belong to a batch's images.

    Args:
        point_start (Tensor): (B,) int64 first row of each sample's image.
        point_count (Tensor): (B,) int64 points of each sample's image.

    Returns:
        tuple[Tensor, Tensor]: (K,) rows into the point table and (K,) batch index of each,
        sample by sample, each sample's points in stored order.
    """
    batch = torch.repeat_interleave(
        torch.arange(len(point_count), device=point_count.device), point_count
    )
    first_of_sample = torch.cumsum(point_count, 0) - point_count
    within = torch.arange(len(batch), device=batch.device) - first_of_sample[batch]
    return point_start[batch] + within, batch


def draw_windows(
    shapes: Tensor,
    target_xy: Tensor,
    targeted: Tensor,
    crop_size: Tuple[int, int],
    u_y: Tensor,
    u_x: Tensor,
) -> Tuple[Tensor, Tensor]:
    """Crop windows, each holding its target pixel when it has one.

    As ``TargetAwareRandomCrop``: window starts range over ``[0, L - c]`` (``[L - c, 0]`` when
    the image is shorter than the crop, which places it inside a padded window); a targeted
    window is drawn uniformly among those that contain the target pixel.

    Args:
        shapes (Tensor): (B, 2) int64 image (H, W).
        target_xy (Tensor): (B, 2) float (x, y) target of each sample (read where
            ``targeted``).
        targeted (Tensor): (B,) bool, the window must contain the target.
        crop_size (tuple[int, int]): (h, w) of the window.
        u_y (Tensor): (B,) uniform [0, 1) draws for the row.
        u_x (Tensor): (B,) uniform [0, 1) draws for the column.

    Returns:
        tuple[Tensor, Tensor]: (B,) int64 ``y0`` and ``x0``.
    """
    ch, cw = crop_size
    h, w = shapes[:, 0], shapes[:, 1]
    ylo, yhi = (
        torch.minimum(h - ch, torch.zeros_like(h)),
        torch.maximum(h - ch, torch.zeros_like(h)),
    )
    xlo, xhi = (
        torch.minimum(w - cw, torch.zeros_like(w)),
        torch.maximum(w - cw, torch.zeros_like(w)),
    )
    # The per-sample crop truncates a point to its pixel (int()); floor agrees on x, y >= 0.
    ty, tx = target_xy[:, 1].floor().long(), target_xy[:, 0].floor().long()
    ylo = torch.where(targeted, torch.maximum(ylo, ty - ch + 1), ylo)
    yhi = torch.where(targeted, torch.minimum(yhi, ty), yhi)
    xlo = torch.where(targeted, torch.maximum(xlo, tx - cw + 1), xlo)
    xhi = torch.where(targeted, torch.minimum(xhi, tx), xhi)
    y0 = ylo + (u_y * (yhi - ylo + 1)).long()
    x0 = xlo + (u_x * (xhi - xlo + 1)).long()
    return torch.minimum(y0, yhi), torch.minimum(x0, xhi)


def _source_pixels(
    draws: BatchDraws, crop_size: Tuple[int, int], device: torch.device
) -> Tuple[Tensor, Tensor]:
    """(B, h, w) image row and column of every output pixel (may lie outside the image)."""
    ch, cw = crop_size
    i = torch.arange(ch, device=device).view(1, ch, 1)
    j = torch.arange(cw, device=device).view(1, 1, cw)
    tr = draws.transpose.view(-1, 1, 1)
    # Output (i, j) of a transposed sample is (j, i) of the flipped crop (square crops only).
    r = torch.where(tr, j, i).expand(len(tr), ch, cw)
    c = torch.where(tr, i, j).expand(len(tr), ch, cw)
    r = torch.where(draws.vflip.view(-1, 1, 1), ch - 1 - r, r)
    c = torch.where(draws.hflip.view(-1, 1, 1), cw - 1 - c, c)
    return draws.y0.view(-1, 1, 1) + r, draws.x0.view(-1, 1, 1) + c


def gather_crops(
    banks: Tuple[Tensor, ...],
    pad_values: Tuple[float, ...],
    index: Tensor,
    draws: BatchDraws,
    crop_size: Tuple[int, int],
) -> Tuple[Tensor, ...]:
    """Crop, pad, flip and transpose a batch out of flat pixel banks in one gather each.

    Args:
        banks (tuple[Tensor]): Flat (P,) banks sharing one layout (images, masks).
        pad_values (tuple[float]): Value of window pixels outside the image, per bank.
        index (Tensor): (B, 3) int64 (offset, H, W) of each sample's image in the banks.
        draws (BatchDraws): The batch's windows and flips.
        crop_size (tuple[int, int]): (h, w) of the window.

    Returns:
        tuple[Tensor]: One (B, h, w) tensor per bank, in the bank's dtype unless the pad value
        needs a wider one (then float32 for a float pad, int64 for an int pad).
    """
    device = index.device
    rows, cols = _source_pixels(draws, crop_size, device)
    off = index[:, 0].view(-1, 1, 1)
    h, w = index[:, 1].view(-1, 1, 1), index[:, 2].view(-1, 1, 1)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    flat = off + rows.clamp(min=0).minimum(h - 1) * w + cols.clamp(min=0).minimum(w - 1)
    out = []
    for bank, pad in zip(banks, pad_values):
        values = bank[flat]
        dtype = torch.float32 if isinstance(pad, float) else torch.int64
        # a Python scalar, not a tensor built on the device: that would be a host-to-device copy
        out.append(torch.where(inside, values.to(dtype), pad))
    return tuple(out)


def move_points(
    points_xy: Tensor, batch: Tensor, draws: BatchDraws, crop_size: Tuple[int, int]
) -> Tuple[Tensor, Tensor]:
    """Points of a batch in the frame of their augmented crops.

    A point survives when it falls inside its window (``0 <= x - x0 < w``, same for y), as in
    ``TargetAwareRandomCrop``; flips mirror it in the crop (``w - 1 - x``), a transpose swaps
    its coordinates.

    Args:
        points_xy (Tensor): (K, 2) float (x, y) in the image frame.
        batch (Tensor): (K,) int64 sample of each point.
        draws (BatchDraws): The batch's windows and flips.
        crop_size (tuple[int, int]): (h, w) of the window.

    Returns:
        tuple[Tensor, Tensor]: (K, 2) float32 moved points and (K,) bool survivors.
    """
    ch, cw = crop_size
    x = points_xy[:, 0].float() - draws.x0[batch]
    y = points_xy[:, 1].float() - draws.y0[batch]
    keep = (x >= 0) & (x < cw) & (y >= 0) & (y < ch)
    x = torch.where(draws.hflip[batch], cw - 1 - x, x)
    y = torch.where(draws.vflip[batch], ch - 1 - y, y)
    tr = draws.transpose[batch]
    return torch.stack([torch.where(tr, y, x), torch.where(tr, x, y)], dim=1), keep
