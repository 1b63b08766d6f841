from . import backbones, decode_heads, losses, pseudo_labels, segmentors  # noqa: F401
