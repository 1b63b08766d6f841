"""Ideal pixel embeddings for the point-to-mask target tests: the affinity of a pixel to a
point's anchor is known exactly (1 on the target, 0 on the background)."""

import math

import torch

BG_VEC = (1.0, 0.0, 0.0, 0.0)
FG_VEC = (0.0, 1.0, 0.0, 0.0)


def ideal_embedding(masks, shells=None):
    """(B, 4, H, W) embedding: pixels of ``masks[b]`` get FG_VEC, the rest BG_VEC; pixels of
    ``shells[b]`` (when given) a vector of cosine 0.65 to FG_VEC.

    Args:
        masks: One (H, W) bool mask per image.
        shells: Optional, one (H, W) bool mask per image.
    """
    B = len(masks)
    h, w = masks[0].shape
    emb = torch.zeros(B, 4, h, w)
    emb[:] = torch.tensor(BG_VEC).view(1, 4, 1, 1)
    mid = torch.tensor([0.0, 0.65, math.sqrt(1 - 0.65**2), 0.0]).view(4, 1)
    for b, m in enumerate(masks):
        emb[b][:, m] = torch.tensor(FG_VEC).view(4, 1)
        if shells is not None:
            emb[b][:, shells[b]] = mid
    return emb
