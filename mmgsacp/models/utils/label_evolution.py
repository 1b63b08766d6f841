"""LESPS label evolution (Ying et al., CVPR 2023, "Mapping Degeneration Meets Label Evolution").

Labels start as the point labels. On each update, every label component is grown from the
network's prediction inside a ``size x size`` neighbourhood centred on the component's centroid:

* threshold ``T = Tb * m + k * (m - Tb * m) * a / (r * H * W)``, with ``m`` the neighbourhood's
  maximum prediction, ``a`` the component's area, ``H * W`` the image size and ``r = 0.0015``;
  the size factor is capped so that ``T <= m`` (``T = m * (Tb + (1 - Tb) * min(k * a / (rHW),
  1))``): a large component stops growing instead of getting an undefined threshold;
* candidates: neighbourhood pixels with prediction ``> T``; when they form several 8-connected
  blobs, only those that touch the centroid's 3x3 cell are kept (false-alarm elimination); a
  single blob is kept wherever it lies, as in LESPS;
* kept pixels become ``(label + pred) / 2``, other pixels keep their label;
* pixels whose label was exactly 1 (the points, at least) stay at 1.

One deliberate difference: LESPS visits the components one after another, each seeing the
labels its predecessors just wrote; here every component is updated from the same old label
(a pixel several components keep is averaged once). The two agree unless the 33 px
neighbourhoods of two components overlap, and the simultaneous form is what lets the patch
form below run all points of a batch at once.

Two forms of the rule live here. :func:`evolve_label` runs it on one full-size label map (the
reference, a loop over components). :func:`evolve_patches` runs it on a stack of per-point
patches at once, which is how training stores labels: LESPS only changes pixels near the points,
so each point keeps a ``S x S`` patch centred on it in original image coordinates
(:class:`PatchLabelStore`) instead of a full-size soft map per image. In the patch form a
point's component is the blob of its own patch that holds it; the two forms agree as long as
components of different points do not meet and each component's neighbourhood stays inside its
patch.

Conventions: points are ``(x, y)`` = (column, row); label maps hold soft labels in [0, 1]; a
pixel counts as labelled target when its soft label is ``>= 0.5`` (``FG_THRESHOLD``).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from ..pseudo_labels.propagation import propagate_until_stable
from .label_store import StemIndexedStore, point_label_infos

#: LESPS's reference target size, as a share of the image area.
AREA_RATIO = 0.0015
#: Soft labels at or above this count as target (components, training targets).
FG_THRESHOLD = 0.5


def evolution_threshold(
    peak: Tensor,
    area: Tensor,
    image_area: Union[float, Tensor],
    tb: float = 0.5,
    k: float = 0.5,
    area_ratio: float = AREA_RATIO,
) -> Tensor:
    """LESPS candidate threshold, with the size factor capped so that ``T <= peak``.

    Args:
        peak (Tensor): (N,) maximum prediction in each neighbourhood.
        area (Tensor): (N,) area of each label component, in pixels.
        image_area (float | Tensor): ``H * W`` of the image, scalar or (N,).
        tb (float): Base ratio ``Tb``.
        k (float): Size-dependent ratio ``k``.
        area_ratio (float): Reference target size over image size.

    Returns:
        Tensor: (N,) thresholds, ``peak * (tb + (1 - tb) * min(k * area / (area_ratio *
        image_area), 1))``.
    """
    peak = peak.float()
    image_area = torch.as_tensor(image_area, dtype=torch.float32, device=peak.device)
    size_factor = area.float() / (area_ratio * image_area)
    return peak * (tb + (1.0 - tb) * (k * size_factor).clamp(max=1.0))


def _components(binary: np.ndarray) -> Tuple[int, np.ndarray]:
    return cv2.connectedComponents(binary.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)


def evolution_mask(
    label: Tensor,
    pred: Tensor,
    points: Union[Tensor, np.ndarray],
    tb: float = 0.5,
    k: float = 0.5,
    size: int = 33,
    image_area: Optional[float] = None,
    area_ratio: float = AREA_RATIO,
) -> Tensor:
    """The pixels one LESPS update averages with the prediction (reference form).

    Components are the 8-connected blobs of ``label >= 0.5`` (points included) that hold at
    least one point; a fragment cut off from every point is left as it is. Each gives its
    candidates (see the module notes) from the same old label.

    Args:
        label (Tensor): (H, W) float soft label in [0, 1].
        pred (Tensor): (H, W) float predicted probability.
        points (Tensor | np.ndarray): (K, 2) integer (x, y) point labels, inside the image.
        tb (float): Base threshold ratio ``Tb``.
        k (float): Size-dependent threshold ratio ``k``.
        size (int): Odd side of the neighbourhood around each component's centroid; clipped
            at the image border.
        image_area (float, optional): ``H * W`` used in the threshold; defaults to the map's.
        area_ratio (float): Reference target size over image size.

    Returns:
        Tensor: (H, W) bool, the kept candidates of every component.
    """
    if size % 2 != 1:
        raise ValueError(f'neighbourhood size must be odd, got {size}')
    label = label.detach().float().cpu()
    pred = pred.detach().float().cpu()
    h, w = label.shape
    pts = torch.as_tensor(np.asarray(points), dtype=torch.long).reshape(-1, 2)
    point_mask = torch.zeros(h, w, dtype=torch.bool)
    point_mask[pts[:, 1], pts[:, 0]] = True
    image_area = float(h * w) if image_area is None else float(image_area)

    num, comp_ids = _components(((label >= FG_THRESHOLD) | point_mask).numpy())
    comp_ids = torch.from_numpy(comp_ids)
    kept = torch.zeros(h, w, dtype=torch.bool)
    half = size // 2
    for cid in comp_ids[point_mask].unique().tolist():
        ys, xs = torch.nonzero(comp_ids == cid, as_tuple=True)
        # floor of the mean (row, col), as integer-valued centroids are taken in LESPS
        cy, cx = int(ys.float().mean().floor()), int(xs.float().mean().floor())
        y0, y1 = max(cy - half, 0), min(cy + half + 1, h)
        x0, x1 = max(cx - half, 0), min(cx + half + 1, w)
        window = pred[y0:y1, x0:x1]
        threshold = float(
            evolution_threshold(
                window.max().view(1), torch.tensor([len(ys)]), image_area, tb, k, area_ratio
            )
        )
        cand = (window > threshold).numpy()
        _, blob_ids = _components(cand)
        if blob_ids.max() > 1:
            cell = blob_ids[max(cy - 1, 0) - y0 : cy + 2 - y0, max(cx - 1, 0) - x0 : cx + 2 - x0]
            touching = np.setdiff1d(np.unique(cell), [0])
            cand = np.isin(blob_ids, touching) & cand
        kept[y0:y1, x0:x1] |= torch.from_numpy(cand)
    return kept


def evolve_label(
    label: Tensor, pred: Tensor, points: Union[Tensor, np.ndarray], **rule: Any
) -> Tensor:
    """One LESPS update of a full-size label map (reference form).

    Kept pixels (:func:`evolution_mask`) become ``(label + pred) / 2``; a pixel kept by several
    components is averaged once; pixels whose label was 1 (the points at least) stay at 1.

    Args:
        label (Tensor): (H, W) float soft label in [0, 1].
        pred (Tensor): (H, W) float predicted probability.
        points (Tensor | np.ndarray): (K, 2) integer (x, y) point labels, inside the image.
        **rule: ``tb``, ``k``, ``size``, ``image_area`` and ``area_ratio`` of
            :func:`evolution_mask` (same defaults).

    Returns:
        Tensor: (H, W) float32 new label.
    """
    kept = evolution_mask(label, pred, points, **rule)
    label = label.detach().float().cpu()
    pred = pred.detach().float().cpu()
    pts = torch.as_tensor(np.asarray(points), dtype=torch.long).reshape(-1, 2)
    new = torch.where(kept, (label + pred) / 2, label)
    new[label == 1] = 1.0
    new[pts[:, 1], pts[:, 0]] = 1.0
    return new


def _patch_grid(patch_size: int, device=None) -> Tuple[Tensor, Tensor]:
    r = torch.arange(patch_size, device=device)
    return r.view(-1, 1), r.view(1, -1)


def evolve_patches(
    labels: Tensor,
    preds: Tensor,
    observed: Tensor,
    anchors: Tensor,
    image_area: Union[float, Tensor],
    tb: float = 0.5,
    k: float = 0.5,
    size: int = 33,
    area_ratio: float = AREA_RATIO,
) -> Tensor:
    """One LESPS update of a stack of per-point label patches, all at once.

    Each patch is centred on its point (pixel ``(S // 2, S // 2)``). The point's component is the
    8-connected blob of ``label >= 0.5`` (anchors included) that holds the centre; the
    neighbourhood is ``size x size`` around that blob's centroid, limited to the patch and to
    ``observed`` pixels (those the prediction covers: pixels outside the image or the training
    crop never become candidates and do not count in the maximum).

    Args:
        labels (Tensor): (N, S, S) float soft labels in [0, 1], S odd.
        preds (Tensor): (N, S, S) float predicted probabilities (any value where not observed).
        observed (Tensor): (N, S, S) bool, the prediction is known there.
        anchors (Tensor): (N, S, S) bool point pixels, forced to 1 (the centre always is).
        image_area (float | Tensor): ``H * W`` of each point's image, scalar or (N,).
        tb (float): Base threshold ratio ``Tb``.
        k (float): Size-dependent threshold ratio ``k``.
        size (int): Odd side of the neighbourhood.
        area_ratio (float): Reference target size over image size.

    Returns:
        Tensor: (N, S, S) float32 new labels.
    """
    if size % 2 != 1:
        raise ValueError(f'neighbourhood size must be odd, got {size}')
    n, s = labels.shape[0], labels.shape[-1]
    labels = labels.float()
    if n == 0:
        return labels.clone()
    c = s // 2
    anchors = anchors.clone()
    anchors[:, c, c] = True
    preds = torch.where(observed, preds.float(), torch.zeros((), device=preds.device))
    rows, cols = _patch_grid(s, labels.device)

    centre = torch.zeros_like(anchors)
    centre[:, c, c] = True
    # a blob can wind through the whole patch: S * S steps bound any 8-connected path
    comp = propagate_until_stable(centre, ((labels >= FG_THRESHOLD) | anchors).unsqueeze(1), s * s)[
        :, 0
    ]
    area = comp.sum((1, 2))
    cy = ((comp * rows).sum((1, 2)).float() / area).floor().long().view(-1, 1, 1)
    cx = ((comp * cols).sum((1, 2)).float() / area).floor().long().view(-1, 1, 1)
    dist_y, dist_x = (rows - cy).abs(), (cols - cx).abs()
    half = size // 2
    neighbourhood = (dist_y <= half) & (dist_x <= half) & observed

    peak = torch.where(neighbourhood, preds, torch.zeros((), device=preds.device)).amax((1, 2))
    threshold = evolution_threshold(peak, area, image_area, tb, k, area_ratio)
    cand = neighbourhood & (preds > threshold.view(-1, 1, 1))
    seed = cand & (dist_y <= 1) & (dist_x <= 1)
    kept = propagate_until_stable(seed, cand.unsqueeze(1), s * s)[:, 0]
    # the touch rule applies only to several blobs: a lone blob is kept wherever it lies.
    # A patch holds one blob iff the blob grown from any one candidate is all the candidates.
    flat = cand.flatten(1)
    first = torch.zeros_like(flat)
    first.scatter_(1, flat.float().argmax(1, keepdim=True), True)
    first &= flat
    lone = propagate_until_stable(first.view_as(cand), cand.unsqueeze(1), s * s)[:, 0]
    single = (lone == cand).flatten(1).all(1) & flat.any(1)
    kept = torch.where(single.view(-1, 1, 1), cand, kept)

    new = torch.where(kept, (labels + preds) / 2, labels)
    return torch.where(anchors | (labels == 1), torch.ones((), device=new.device), new)


def point_anchors(points: Tensor, patch_size: int) -> Tensor:
    """Which pixels of each point's patch are point labels (of the same image).

    Args:
        points (Tensor): (K, 2) long (x, y) points of one image.
        patch_size (int): Odd patch side ``S``.

    Returns:
        Tensor: (K, S, S) bool; patch ``i`` has its own centre and every other point within it.
    """
    kp = points.shape[0]
    c = patch_size // 2
    anchors = torch.zeros(kp, patch_size, patch_size, dtype=torch.bool, device=points.device)
    if kp == 0:
        return anchors
    rel = points.view(1, kp, 2) - points.view(kp, 1, 2) + c  # (i, j): point j in patch i
    inside = ((rel >= 0) & (rel < patch_size)).all(-1)
    i, j = torch.nonzero(inside, as_tuple=True)
    anchors[i, rel[i, j, 1], rel[i, j, 0]] = True
    return anchors


def _bbox_canvas(coords: Tensor, valid: Tensor) -> Optional[Tuple[Tensor, int, int, int, int]]:
    """Flat index of each valid crop pixel in the bounding box of its original coordinates."""
    xs, ys = coords[..., 0][valid], coords[..., 1][valid]
    if xs.numel() == 0:
        return None
    x0, y0 = int(xs.min()), int(ys.min())
    bw, bh = int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1
    return (ys - y0) * bw + (xs - x0), x0, y0, bw, bh


def _patch_index(
    points: Tensor, patch_size: int, x0: int, y0: int, bw: int, bh: int
) -> Tuple[Tensor, Tensor]:
    """Flat bounding-box index of every patch pixel, and whether it falls inside the box."""
    c = patch_size // 2
    rows, cols = _patch_grid(patch_size, points.device)
    px = points[:, 0].view(-1, 1, 1) + cols - c - x0
    py = points[:, 1].view(-1, 1, 1) + rows - c - y0
    inside = (px >= 0) & (px < bw) & (py >= 0) & (py < bh)
    return py.clamp(0, bh - 1) * bw + px.clamp(0, bw - 1), inside


def crop_to_patches(
    values: Tensor, coords: Tensor, valid: Tensor, points: Tensor, patch_size: int
) -> Tuple[Tensor, Tensor]:
    """Map a per-crop-pixel value back onto point patches in original image coordinates.

    The crop may have been cut, padded, flipped, transposed or rotated: ``coords`` says where
    each crop pixel came from, so no transform needs to be undone explicitly.

    Args:
        values (Tensor): (h, w) values on the crop (e.g. predicted probabilities).
        coords (Tensor): (h, w, 2) long original (x, y) of each crop pixel.
        valid (Tensor): (h, w) bool, the crop pixel comes from the image (not padding).
        points (Tensor): (K, 2) long original (x, y) patch centres.
        patch_size (int): Odd patch side ``S``.

    Returns:
        tuple[Tensor, Tensor]: (K, S, S) values (0 where unobserved) and (K, S, S) bool
        ``observed`` (the crop holds that pixel).
    """
    k, s = points.shape[0], patch_size
    out = values.new_zeros(k, s, s)
    observed = torch.zeros(k, s, s, dtype=torch.bool, device=values.device)
    box = _bbox_canvas(coords, valid)
    if box is None or k == 0:
        return out, observed
    flat, x0, y0, bw, bh = box
    canvas = values.new_zeros(bh * bw)
    seen = torch.zeros(bh * bw, dtype=torch.bool, device=values.device)
    canvas[flat] = values[valid]
    seen[flat] = True
    index, inside = _patch_index(points, s, x0, y0, bw, bh)
    observed = inside & seen[index]
    return torch.where(observed, canvas[index], out), observed


def patches_to_crop(patches: Tensor, points: Tensor, coords: Tensor, valid: Tensor) -> Tensor:
    """Render point patches onto a (transformed) crop: each pixel takes its patches' maximum.

    Args:
        patches (Tensor): (K, S, S) soft labels centred on ``points``.
        points (Tensor): (K, 2) long original (x, y).
        coords (Tensor): (h, w, 2) long original (x, y) of each crop pixel.
        valid (Tensor): (h, w) bool, the crop pixel comes from the image.

    Returns:
        Tensor: (h, w) float32 soft label, 0 where no patch reaches and on padding.
    """
    out = torch.zeros(valid.shape, dtype=torch.float32, device=valid.device)
    box = _bbox_canvas(coords, valid)
    if box is None or points.shape[0] == 0:
        return out
    flat, x0, y0, bw, bh = box
    index, inside = _patch_index(points, patches.shape[-1], x0, y0, bw, bh)
    canvas = torch.zeros(bh * bw, dtype=torch.float32, device=valid.device)
    canvas.scatter_reduce_(0, index[inside], patches.float()[inside], reduce='amax')
    out[valid] = canvas[flat]
    return out


class PatchLabelStore(StemIndexedStore):
    """Evolving LESPS labels of a training set, one ``S x S`` patch per point.

    Rows are grouped by image (``stems``), in dataset order; image ``i`` owns rows
    ``row_start[i]:row_start[i + 1]``. Patches are float16 (0.5 and 1 are exact, and soft values
    keep three significant digits, ample for training targets), centred on the point in
    original image coordinates. Pixels outside every patch are background.

    Updates are staged (:meth:`stage`) during a training step and written by :meth:`commit`
    after it, so that in distributed training every rank can apply every rank's updates and
    the copies stay identical.

    Args:
        stems (Sequence[str]): Image identifiers, unique.
        points (Sequence[np.ndarray | Tensor]): Per image, (K_i, 2) integer (x, y) points.
        patch_size (int): Odd patch side ``S``.
    """

    labels_name = 'LESPS labels'

    def __init__(
        self,
        stems: Sequence[str],
        points: Sequence[Union[np.ndarray, Tensor]],
        patch_size: int = 41,
    ) -> None:
        if patch_size % 2 != 1 or patch_size < 3:
            raise ValueError(f'patch_size must be odd and >= 3, got {patch_size}')
        if len(stems) != len(points):
            raise ValueError(f'{len(stems)} stems but {len(points)} point arrays')
        self.patch_size = int(patch_size)
        self._index_stems(stems)
        pts = [
            torch.as_tensor(np.asarray(p), dtype=torch.float32).reshape(-1, 2).round().long()
            for p in points
        ]
        counts = torch.tensor([len(p) for p in pts], dtype=torch.long)
        self.row_start = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        self.points = torch.cat(pts) if pts else torch.zeros(0, 2, dtype=torch.long)
        self.anchors = (
            torch.cat([point_anchors(p, self.patch_size) for p in pts])
            if pts
            else torch.zeros(0, self.patch_size, self.patch_size, dtype=torch.bool)
        )
        self.patches = self.anchors.to(torch.float16)
        #: Per row, how many updates changed it.
        self.num_updates = torch.zeros(len(self.points), dtype=torch.long)
        self._staged: List[Tuple[Tensor, Tensor]] = []

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def rows(self, stem: str) -> Tensor:
        """(K,) long row indices of an image's points.

        Raises:
            KeyError: the image is not in the store.
        """
        i = self.position(stem)
        return torch.arange(int(self.row_start[i]), int(self.row_start[i + 1]))

    def stage(self, rows: Tensor, patches: Tensor) -> None:
        """Queue new patches for ``rows`` until :meth:`commit`."""
        if rows.numel():
            self._staged.append(
                (rows.detach().cpu().long(), patches.detach().cpu().to(torch.float16))
            )

    def commit(self, gather: Optional[Callable[[object], List[object]]] = None) -> int:
        """Write the staged updates (all ranks' with ``gather``, e.g. ``all_gather_object``).

        Returns:
            int: Number of rows written.
        """
        local = self._staged
        self._staged = []
        batches = [u for part in gather(local) for u in part] if gather else local
        written = 0
        for rows, patches in batches:
            self.patches[rows] = patches
            self.num_updates[rows] += 1
            written += len(rows)
        return written

    def label_area(self) -> Tensor:
        """(P,) labelled-target pixels (``>= 0.5``) of each patch."""
        return (self.patches >= FG_THRESHOLD).sum((1, 2))

    def label_mass(self) -> Tensor:
        """(P,) float32 sum of each patch's soft labels: the growth the loss sees, which
        :meth:`label_area` misses while evolved values stay below 0.5."""
        return self.patches.float().sum((1, 2))

    def state_dict(self) -> dict:
        """Tensors, strings and ints only: loads with ``torch.load(weights_only=True)``."""
        return dict(
            stems=list(self.stems),
            row_start=self.row_start.clone(),
            points=self.points.clone(),
            patches=self.patches.clone(),
            num_updates=self.num_updates.clone(),
            patch_size=self.patch_size,
        )

    def load_state_dict(self, state: dict) -> None:
        """Restore saved labels.

        Raises:
            ValueError: the saved labels belong to other images, points or patch size.
        """
        if int(state['patch_size']) != self.patch_size:
            raise ValueError(f'saved patch size {state["patch_size"]} != {self.patch_size}')
        if list(state['stems']) != self.stems:
            raise ValueError('saved labels list other images (or another order)')
        if not torch.equal(state['row_start'], self.row_start) or not torch.equal(
            state['points'], self.points
        ):
            raise ValueError('saved labels hold other points')
        self.patches = state['patches'].to(torch.float16).clone()
        self.num_updates = state['num_updates'].clone()
        self._staged = []

    @classmethod
    def from_dataset(cls, dataset, patch_size: int = 41) -> 'PatchLabelStore':
        """One row per point of every image of a dataset (``stem`` and ``gt_points`` infos)."""
        infos = list(point_label_infos(dataset, 'LESPS'))
        return cls(
            [info['stem'] for info in infos], [info['gt_points'] for info in infos], patch_size
        )
