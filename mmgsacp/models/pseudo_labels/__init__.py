"""Point-to-mask target generation: windows, prior gates, growth, the label rule, negatives."""

from . import label_rule, negatives, propagation
from .label_rule import *  # noqa: F403
from .negatives import *  # noqa: F403
from .propagation import *  # noqa: F403

# each module's __all__ is the one list of its public names
__all__ = label_rule.__all__ + negatives.__all__ + propagation.__all__
