from . import coordinates, formatting, loading, transforms
from .coordinates import *  # noqa: F403
from .formatting import *  # noqa: F403
from .loading import *  # noqa: F403
from .transforms import *  # noqa: F403

# each module's __all__ is the one list of its public names
__all__ = loading.__all__ + transforms.__all__ + formatting.__all__ + coordinates.__all__
