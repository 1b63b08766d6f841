from . import (  # noqa: F401
    backbones,
    data_preprocessors,
    decode_heads,
    losses,
    pseudo_labels,
    segmentors,
)
